"""Models per environment, the champion rule, and promotion through the shared registry:
the gate-promoted version is copied from the first workspace into the registry once, and an
environment after the second only takes a version its predecessor is serving. What can be
refused is refused with exit 2 before any write."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops.config.loader import LoadedConfig
from mlops.errors import BackendError, BadInputError
from mlops.render.endpoint import endpoint_name
from mlops.services.azure_ml.workspaces import registry, workspace
from mlops.services.models import parse_reference

if TYPE_CHECKING:
    from mlops.backends.azure.clients import AzureClients
    from mlops.backends.local.registry import ModelVersion


def models(loaded: LoadedConfig, env: str, clients: AzureClients, name: str | None):
    """Versions in `env`'s workspace, newest first, champion marked (the newest version the
    gate promoted: Azure ML's MLflow registry has no aliases)."""
    from mlops.backends.azure import aml

    ml = workspace(loaded, env).client(clients)
    names = [name] if name else aml.model_names(ml)
    return [_with_champion(aml.model_versions(ml, n)) for n in names]


def _with_champion(versions: list[ModelVersion]) -> list[ModelVersion]:
    from dataclasses import replace

    from mlops.gate import CHAMPION, champion

    chosen = champion(versions)
    return [replace(v, aliases=[CHAMPION]) if v is chosen else v for v in versions]


def _promoted(version: ModelVersion) -> bool:
    from mlops.gate import is_champion_candidate

    return is_champion_candidate(version.tags)


def show(loaded: LoadedConfig, env: str, clients: AzureClients, reference: str) -> ModelVersion:
    from mlops.errors import NotFoundError

    name, version, _alias = parse_reference(reference)
    versions = models(loaded, env, clients, name)[0]
    found = (
        next((v for v in versions if v.version == version), None)
        if version
        else next((v for v in versions if v.aliases), None)
    )
    if found is None:
        raise NotFoundError(
            f"{reference} is not in the {env} workspace",
            hint=f"list what is there with `mlops models list --env {env}`",
        )
    return found


@dataclass
class Promotion:
    name: str
    version: str
    to: str
    registry: str
    copied: bool
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "version": self.version,
            "to": self.to,
            "registry": self.registry,
            "copied": self.copied,
            "reference": f"azureml://registries/{self.registry}/models/{self.name}"
            f"/versions/{self.version}",
            "tags": self.tags,
        }


def promote(loaded: LoadedConfig, reference: str, to: str, clients: AzureClients) -> Promotion:
    """Make NAME:VERSION, promoted by the gate in the first environment, deployable in `to`."""
    from mlops.backends.azure import aml

    name, version = _exact(reference)
    order = list(loaded.config.environments.azure)
    workspace(loaded, to)  # an unknown environment is bad input before any call
    if not order or to == order[0]:
        raise BadInputError(
            f"'{to}' is where models are trained: promotion is into a later environment",
            hint=f"choose one of: {', '.join(order[1:])}" if order[1:] else None,
        )
    source = workspace(loaded, order[0])
    found = aml.get_model(source.client(clients), name, version)
    if found is None:
        raise BadInputError(
            f"model {name}:{version} is not in the {source.env} workspace ({source.name})",
            hint=f"list its versions with `mlops models list --env {source.env}`",
        )
    if not _promoted(found):
        decision = found.tags.get("gate_decision", "no decision recorded")
        forced = " (registered by force)" if found.tags.get("forced") == "true" else ""
        raise BadInputError(
            f"{name}:{version} was not promoted by the gate: {decision}{forced}",
            hint="only versions the continuous-training gate promoted move on; retrain, or"
            " deploy the current champion",
        )
    previous = order[order.index(to) - 1]
    if previous != order[0]:
        _require_served(loaded, previous, clients, name, version)
    reg_name = loaded.config.shared_names().registry
    shared = registry(loaded, clients)
    held = aml.get_model(shared, name, version)
    copied = False
    if held is None:
        try:
            aml.share_model(source.client(clients), name, version, reg_name)
            copied = True
        except BackendError:
            held = aml.get_model(shared, name, version)
            if held is None:
                raise
            # another promotion of the same version copied it first: checked below
    if held is not None:
        _require_same_model(found, held, reg_name)
    return Promotion(name, version, to, reg_name, copied, found.tags)


#: tags a model carries from the run that made it; the registry copy keeps them (share
#: copies the asset with its tags), so they tell the same bits from another NAME:VERSION
IDENTITY_TAGS = ("git_commit", "build_id", "dataset_name", "dataset_version", "mlflow_run_id")


def _require_same_model(source: ModelVersion, held: ModelVersion, registry_name: str) -> None:
    """The registry's NAME:VERSION must be the copy of the workspace's, not another model
    that happens to share name and version (another project, an earlier registry): what
    test and prod deploy must be what the gate promoted."""
    differs = {
        k: (source.tags.get(k), held.tags.get(k))
        for k in IDENTITY_TAGS
        if k in source.tags and source.tags.get(k) != held.tags.get(k)
    }
    if differs:
        shown = ", ".join(f"{k}: {a} here, {b} there" for k, (a, b) in differs.items())
        raise BadInputError(
            f"registry {registry_name} already holds a different {source.name}:"
            f"{source.version} ({shown})",
            hint="the registry's copy is not what the gate promoted: register the model under"
            " a new version, or remove the stale one from the registry",
        )


def check_deploy_order(
    loaded: LoadedConfig, env: str, clients: AzureClients, name: str, version: str | None
) -> None:
    """Promotion order, enforced where models are deployed: an environment after the first
    takes an exact version (never "the newest in the registry"), and one after the second
    only the version its predecessor serves with all its traffic. Exit 2 before any write."""
    order = list(loaded.config.environments.azure)
    if not order or env == order[0]:
        return
    require_exact_version(loaded, env, name, version)
    assert version is not None
    previous = order[order.index(env) - 1]
    if previous != order[0]:
        _require_served(loaded, previous, clients, name, version)


def require_exact_version(loaded: LoadedConfig, env: str, name: str, version: str | None) -> None:
    """After the first environment a deploy names its version (never "the newest in the
    registry"); the dry run asks the same, so it shows what deploy would apply."""
    order = list(loaded.config.environments.azure)
    if version is None and order and env != order[0]:
        raise BadInputError(
            f"deploying to {env} needs an exact version: --model NAME:VERSION",
            hint=f"the version promoted to {env}, e.g. `mlops deploy --env {env} --model"
            f" {name}:3`; `mlops models list --env {order[0]}` shows what the gate promoted",
        )


def _require_served(
    loaded: LoadedConfig, previous: str, clients: AzureClients, name: str, version: str
) -> None:
    serving = _serving(loaded, previous, clients)
    if not serving or f"/models/{name}/versions/{version}" not in serving:
        raise BadInputError(
            f"{name}:{version} is not what {previous} serves"
            f" ({serving or 'no endpoint there yet'})",
            hint=f"deploy it to {previous} first: `mlops deploy --env {previous}"
            f" --model {name}:{version}`",
        )


def _exact(reference: str) -> tuple[str, str]:
    name, version, _alias = parse_reference(reference)
    if version is None:
        raise BadInputError(
            f"'{reference}' names no version", hint="promote an exact version: NAME:VERSION"
        )
    return name, version


def _serving(loaded: LoadedConfig, env: str, clients: AzureClients) -> str | None:
    """The model the endpoint of `env` sends all its traffic to, or None."""
    from mlops.backends.azure import aml

    ml = workspace(loaded, env).client(clients)
    endpoint = endpoint_name(loaded.config, env)
    traffic = aml.endpoint_traffic(ml, endpoint)
    if not traffic:
        return None
    leader = max(traffic, key=lambda d: traffic[d])
    if traffic[leader] < 100:
        return None
    return aml.deployments(ml, endpoint).get(leader)
