"""Azure ML use cases: continuous training in a workspace, models per environment, promotion
through the shared registry, and blue/green deployment with smoke tests and rollback.

Environments are ordered as mlops.yaml declares them: the first trains (dev), the later ones
serve what the first produced. Promotion copies the gate-promoted version from the first
workspace into the registry once; every later environment deploys those same bits, and an
environment after the second only takes a version its predecessor is serving. Everything
that can be refused (an unknown environment, a version the gate did not promote, a model the
registry lacks) is refused with exit 2 before any write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.config.loader import LoadedConfig
from mlops.errors import BackendError, BadInputError, ConfigError
from mlops.plan.rollout import Rollout, plan_rollout
from mlops.render.endpoint import deployment_spec, endpoint_spec, model_uri
from mlops.services.models import parse_reference

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

    from mlops.backends.azure.aml import JobState
    from mlops.backends.azure.clients import AzureClients
    from mlops.backends.local.registry import ModelVersion

#: (event, detail), for the CLI to show progress in a pipeline log
OnEvent = Callable[[str, str], None]
PROMOTED = "promoted"


@dataclass(frozen=True)
class Workspace:
    env: str
    subscription_id: str
    resource_group: str
    name: str

    def client(self, clients: AzureClients) -> MLClient:
        return clients.ml(self.subscription_id, self.resource_group, self.name)


def environment(loaded: LoadedConfig, env: str) -> None:
    """Exit 2 unless `env` is an Azure environment of mlops.yaml."""
    azure_envs = loaded.config.environments.azure
    if env not in azure_envs:
        raise BadInputError(
            f"environment '{env}' is not an Azure environment of {loaded.path.name}",
            hint=f"choose one of: {', '.join(azure_envs)}" if azure_envs else None,
        )


def workspace(loaded: LoadedConfig, env: str) -> Workspace:
    """An Azure environment's workspace; exit 2 for an unknown env or a missing subscription."""
    environment(loaded, env)
    config = loaded.config
    spec = config.environments.azure[env]
    sub = spec.subscription_id or config.azure.subscription_id
    if not sub:
        raise ConfigError(
            f"{loaded.path.name} has no subscription for {env}",
            issues=[
                loaded.issue(
                    ("azure", "subscription_id"),
                    "is needed to reach Azure ML",
                    "az account show --query id -o tsv",
                )
            ],
        )
    names = config.environment_names(env)
    return Workspace(env, sub, names.resource_group, names.workspace)


def registry(loaded: LoadedConfig, clients: AzureClients) -> MLClient:
    """The shared registry's client (it lives in azure.subscription_id)."""
    config = loaded.config
    if not config.azure.subscription_id:
        raise ConfigError(
            f"{loaded.path.name} has no subscription for the shared registry",
            issues=[
                loaded.issue(
                    ("azure", "subscription_id"),
                    "is needed to reach the shared model registry",
                    "az account show --query id -o tsv",
                )
            ],
        )
    shared = config.shared_names()
    return clients.ml_registry(config.azure.subscription_id, shared.resource_group, shared.registry)


def _model_name(loaded: LoadedConfig) -> str:
    model = loaded.config.model
    return (model.name if model else None) or loaded.config.project.name


# --- continuous training ------------------------------------------------------------------


@dataclass
class AzureRun:
    job: JobState
    waited: bool
    model_name: str = ""

    @property
    def ok(self) -> bool:
        return not self.waited or self.job.status == "Completed"

    @property
    def gate(self) -> dict[str, str]:
        evaluate = self.job.step("evaluate")
        tags = evaluate.tags if evaluate else {}
        return {k: tags[k] for k in ("gate_decision", "gate_reason") if k in tags}

    @property
    def model(self) -> str | None:
        """NAME:VERSION the register step registered (its `registered_version` tag)."""
        register = self.job.step("register")
        version = register.tags.get("registered_version") if register else None
        return f"{self.model_name}:{version}" if version else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "job": self.job.name,
            "status": self.job.status,
            "url": self.job.url,
            "waited": self.waited,
            "steps": [{"step": s.name, "status": s.status} for s in self.job.steps],
            **self.gate,
            "model": self.model,
        }


def run(
    loaded: LoadedConfig,
    env: str,
    pipeline: Path | None,
    overrides: dict[str, str],
    clients: AzureClients,
    *,
    force_register: bool = False,
    wait: bool = True,
    timeout_s: float = 4 * 3600,
    poll_s: float = 15.0,
    on_event: OnEvent | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> AzureRun:
    """Submit the pipeline to `env`'s workspace with lineage tags; follow it to the end."""
    from mlops.backends.azure import aml
    from mlops.services.run import check_overrides, new_run_id, pipeline_path, provided_inputs

    check_overrides(overrides)
    target = workspace(loaded, env)
    path = pipeline_path(loaded, pipeline)
    run_id = new_run_id()
    provided = provided_inputs(loaded, run_id, force_register=force_register)
    lineage = {k: provided[k] for k in ("git_commit", "git_branch", "build_id", "build_uri")}
    ml = target.client(clients)
    notify = on_event or (lambda *_: None)
    experiment = _model_name(loaded)
    state = aml.submit(
        ml,
        path,
        experiment=experiment,
        inputs={**provided, **overrides},
        tags={**lineage, "mlops.env": env, "mlops.run_id": run_id},
    )
    notify("submitted", f"{state.name} to {target.name}: {state.url}")
    if not wait:
        return AzureRun(state, waited=False, model_name=experiment)
    deadline = time.monotonic() + timeout_s
    seen: dict[str, str] = {}
    while True:
        state = aml.job_state(ml, state.name)
        for step in state.steps:
            if seen.get(step.name) != step.status:
                seen[step.name] = step.status
                notify(step.status, step.name)
        if state.done:
            break
        if time.monotonic() >= deadline:
            raise BackendError(
                f"job {state.name} is still {state.status} after {timeout_s:.0f} s;"
                f" it goes on in Azure ML: {state.url}",
                hint="follow it in the studio, or wait longer with --timeout",
            )
        sleep(poll_s)
    result = AzureRun(state, waited=True, model_name=experiment)
    if not result.ok:
        failed = [s.name for s in state.steps if s.status in ("Failed", "Canceled")]
        raise BackendError(
            f"job {state.name} ended {state.status}"
            + (f" in {', '.join(failed)}" if failed else "")
            + f": {state.url}",
            hint="the step's logs are in the studio (Outputs + logs)",
        )
    return result


# --- models -------------------------------------------------------------------------------


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


# --- promotion ----------------------------------------------------------------------------


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
        serving = _serving(loaded, previous, clients)
        if not serving or f"/models/{name}/versions/{version}" not in serving:
            raise BadInputError(
                f"{name}:{version} is not what {previous} serves"
                f" ({serving or 'no endpoint there yet'})",
                hint=f"deploy it to {previous} first: `mlops deploy --env {previous}"
                f" --model {name}:{version}`",
            )
    reg_name = loaded.config.shared_names().registry
    copied = False
    if aml.get_model(registry(loaded, clients), name, version) is None:
        aml.share_model(source.client(clients), name, version, reg_name)
        copied = True
    return Promotion(name, version, to, reg_name, copied, found.tags)


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
    endpoint = loaded.config.deployment.endpoint_name or ""
    traffic = aml.endpoint_traffic(ml, endpoint)
    if not traffic:
        return None
    leader = max(traffic, key=lambda d: traffic[d])
    if traffic[leader] < 100:
        return None
    return aml.deployments(ml, endpoint).get(leader)


# --- deployment ---------------------------------------------------------------------------


@dataclass
class Deployed:
    env: str
    endpoint: str
    deployment: str
    model: str
    previous: str | None
    traffic: list[dict[str, int]] = field(default_factory=list)
    smoke: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "env": self.env,
            "endpoint": self.endpoint,
            "deployment": self.deployment,
            "model": self.model,
            "previous": self.previous,
            "traffic_steps": self.traffic,
            "smoke": self.smoke,
        }


def dry_run(loaded: LoadedConfig, env: str, reference: str | None) -> list[dict[str, Any]]:
    """The endpoint and deployment specs `deploy` would apply, with no Azure call."""
    environment(loaded, env)
    name, version = _reference(loaded, reference)
    config = loaded.config
    return [
        endpoint_spec(config),
        deployment_spec(
            config, name="blue", model=model_uri(config, name, version), tags=_tags(name, version)
        ),
    ]


def _reference(loaded: LoadedConfig, reference: str | None) -> tuple[str, str | None]:
    if reference is None:
        return _model_name(loaded), None
    name, version, alias = parse_reference(reference)
    if version is None and alias not in (None, "champion", "latest"):
        raise BadInputError(
            f"'{reference}': the registry has no alias @{alias}",
            hint="use NAME:VERSION, or NAME for its newest promoted version",
        )
    return name, version


def _tags(name: str, version: str | None) -> dict[str, str]:
    return {"model": name, "model_version": version or "latest"}


def deploy(
    loaded: LoadedConfig,
    env: str,
    reference: str | None,
    clients: AzureClients,
    *,
    on_event: OnEvent | None = None,
) -> Deployed:
    """Blue/green: the new deployment at 0%, smoke-tested directly, traffic moved by
    `deployment.traffic_steps` with a health and smoke check after each, the old one removed.
    Any failure puts all traffic back on the old deployment and removes the new one."""
    from mlops.backends.azure import aml

    config = loaded.config
    target = workspace(loaded, env)
    name, version = _reference(loaded, reference)
    samples = _samples(loaded)
    notify = on_event or (lambda *_: None)
    ml = target.client(clients)
    version = _deployable_version(loaded, clients, ml, name, version)
    endpoint = config.deployment.endpoint_name or ""
    traffic = aml.endpoint_traffic(ml, endpoint)
    if traffic is None:
        notify("creating", f"endpoint {endpoint}")
        aml.create_endpoint(ml, endpoint_spec(config), loaded.root)
        traffic = {}
    rollout = plan_rollout(traffic, config.deployment.traffic_steps)
    model = model_uri(config, name, version)
    spec = deployment_spec(config, name=rollout.new, model=model, tags=_tags(name, version))
    result = Deployed(env, endpoint, rollout.new, model, rollout.old)
    notify("deploying", f"{rollout.new} ({name}:{version}) at 0% of {endpoint}")
    try:
        aml.create_deployment(ml, spec, loaded.root)
        result.smoke += _smoke(ml, endpoint, rollout.new, samples)
        notify("smoke-tested", f"{rollout.new}: {len(samples)} request(s) answered")
        for step in rollout.steps:
            aml.set_traffic(ml, endpoint, step)
            result.traffic.append(step)
            notify("traffic", ", ".join(f"{d} {p}%" for d, p in step.items()))
            state = aml.deployment_state(ml, endpoint, rollout.new)
            if state != "Succeeded":
                raise BackendError(f"deployment {rollout.new} is {state}")
            result.smoke += _smoke(ml, endpoint, rollout.new, samples)
    except BackendError as exc:
        _roll_back(ml, endpoint, rollout, notify)
        where = f"traffic stays on {rollout.old}" if rollout.old else "nothing serves yet"
        raise BackendError(
            f"rolled back {rollout.new} ({name}:{version}) on {endpoint}: {exc.message}; {where}",
            hint=exc.hint or "see the deployment's logs in the studio (Endpoints)",
        ) from None
    if rollout.old:
        notify("removing", f"{rollout.old}")
        aml.delete_deployment(ml, endpoint, rollout.old)
    return result


def _deployable_version(
    loaded: LoadedConfig, clients: AzureClients, ml: MLClient, name: str, version: str | None
) -> str:
    """The exact version to deploy: it must already be where the endpoint reads it from."""
    from mlops.backends.azure import aml

    kubernetes = loaded.config.deployment.target == "kubernetes"
    source = ml if kubernetes else registry(loaded, clients)
    where = "the environment's workspace" if kubernetes else "the shared registry"
    if version is None:
        versions = aml.model_versions(source, name)
        if not versions:
            raise BadInputError(
                f"no version of {name} in {where}",
                hint="promote one first: `mlops promote NAME:VERSION --to ENV`",
            )
        return versions[0].version
    if aml.get_model(source, name, version) is None:
        raise BadInputError(
            f"model {name}:{version} is not in {where}",
            hint=f"promote it first: `mlops promote {name}:{version} --to ENV`",
        )
    return version


def _samples(loaded: LoadedConfig) -> list[Path]:
    model = loaded.config.model
    if model is None or not model.sample_request:
        raise ConfigError(
            f"{loaded.path.name} names no sample request to smoke-test a deployment with",
            issues=[
                loaded.issue(
                    ("model", "sample_request"),
                    "is needed to smoke-test a deployment before it takes traffic",
                    "e.g. src/diagnosis/sample_request.json",
                )
            ],
        )
    path = loaded.root / model.sample_request
    if not path.is_file():
        raise BadInputError(
            f"{model.sample_request} (model.sample_request) does not exist",
            hint="point model.sample_request at a JSON request the model answers",
        )
    return [path]


def _smoke(ml: MLClient, endpoint: str, deployment: str, samples: list[Path]) -> list[str]:
    """Each sample scored by the deployment itself: an answer, as JSON, one row per input."""
    from mlops.backends.azure import aml

    out = []
    for sample in samples:
        answer = aml.invoke(ml, endpoint, deployment, sample)
        try:
            parsed = json.loads(answer)
        except (TypeError, ValueError):
            message = f"smoke test: {deployment} answered non-JSON: {answer!r:.80}"
            raise BackendError(message) from None
        rows = len(json.loads(sample.read_text(encoding="utf-8")).get("data", []))
        predictions = parsed.get("predictions", parsed) if isinstance(parsed, dict) else parsed
        if rows and (not isinstance(predictions, list) or len(predictions) != rows):
            raise BackendError(
                f"smoke test: {deployment} answered {answer!r:.80} for {rows} input rows"
            )
        out.append(f"{sample.name}: {rows} prediction(s)")
    return out


def _roll_back(ml: MLClient, endpoint: str, rollout: Rollout, notify: OnEvent) -> None:
    from mlops.backends.azure import aml

    notify("rolling back", ", ".join(f"{d} {p}%" for d, p in rollout.rollback.items()))
    current = aml.endpoint_traffic(ml, endpoint) or {}
    if current.get(rollout.new):
        aml.set_traffic(ml, endpoint, rollout.rollback)
    if rollout.new in aml.deployments(ml, endpoint):
        aml.delete_deployment(ml, endpoint, rollout.new)
