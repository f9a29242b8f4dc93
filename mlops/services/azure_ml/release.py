"""Blue/green deployment to an environment's online endpoint: the new deployment at 0%,
smoke-tested, traffic moved step by step with checks, the old one removed; any failure puts
traffic back and removes the new deployment."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.backends.azure.aml import DEPLOYMENT_CREATE_TIMEOUT
from mlops.config.loader import LoadedConfig
from mlops.errors import BackendError, BadInputError, ConfigError, MlopsError
from mlops.plan.rollout import Rollout, plan_rollout
from mlops.render.endpoint import deployment_spec, endpoint_name, endpoint_spec, model_uri
from mlops.services.azure_ml.models import check_deploy_order
from mlops.services.azure_ml.workspaces import (
    OnEvent,
    model_name,
    registry,
    workspace,
)
from mlops.services.models import parse_reference

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

    from mlops.backends.azure.clients import AzureClients
    from mlops.backends.local.registry import ModelVersion


@dataclass
class Deployed:
    env: str
    endpoint: str
    deployment: str
    model: str
    previous: str | None
    traffic: list[dict[str, int]] = field(default_factory=list)
    smoke: list[str] = field(default_factory=list)
    monitor: str | None = None  # the monitor schedule created or moved to this deployment

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
            "monitor": self.monitor,
        }


@dataclass(frozen=True)
class Release:
    """What `deploy` will apply to `env`, prepared from Azure's state with reads only: the
    dry run shows it, the deploy applies it, so the two cannot disagree."""

    env: str
    endpoint: str
    reference: str  # NAME:VERSION, the exact version
    model: str  # the model id the deployment serves
    environment: str | None  # the pinned environment id (None: no scoring script)
    creates_endpoint: bool
    rollout: Rollout
    endpoint_spec: dict[str, Any]
    deployment_spec: dict[str, Any]
    samples: list[Path]
    #: the endpoint's monitor schedule, on the new deployment (monitoring.collection on)
    monitor_spec: dict[str, Any] | None = None

    @property
    def specs(self) -> list[dict[str, Any]]:
        monitor = [self.monitor_spec] if self.monitor_spec is not None else []
        return [self.endpoint_spec, self.deployment_spec, *monitor]

    def rollout_dict(self) -> dict[str, Any]:
        """The rollout as data: what is created, each traffic split, what is removed."""
        return {
            "creates_endpoint": self.creates_endpoint,
            "deployment": self.rollout.new,
            "model": self.model,
            "environment": self.environment,
            "serving": self.rollout.old,
            "traffic_steps": [dict(step) for step in self.rollout.steps],
            "removes": self.rollout.old,
            # the monitor schedule moved to the new deployment once it serves (or None)
            "monitor": self.monitor_spec["name"] if self.monitor_spec is not None else None,
        }


def dry_run(
    loaded: LoadedConfig, env: str, reference: str | None, clients: AzureClients
) -> Release:
    """What `deploy` would apply, from the same checks and reads (GET only): the colour
    from the endpoint's traffic, the exact model version, the pinned environment."""
    return _prepare(loaded, env, reference, clients)[0]


def _prepare(
    loaded: LoadedConfig, env: str, reference: str | None, clients: AzureClients
) -> tuple[Release, MLClient]:
    """Every check and read a deploy needs before its first write, shared with the dry run:
    promotion order, the exact version, the endpoint's traffic and so the colour, the
    pinned environment and the specs. Reads only."""
    from mlops.backends.azure import aml

    config = loaded.config
    target = workspace(loaded, env)
    name, version = _reference(loaded, reference)
    check_deploy_order(loaded, env, clients, name, version)
    samples = _samples(loaded)
    ml = target.client(clients)
    found = _deployable_version(loaded, clients, ml, name, version)
    version = found.version
    endpoint = endpoint_name(config, env)
    traffic = aml.endpoint_traffic(ml, endpoint)
    rollout = plan_rollout(traffic or {}, config.deployment.traffic_steps)
    model = model_uri(config, name, version)
    pinned = pinned_environment(loaded, env, clients, ml)
    spec = deployment_spec(
        config, env, name=rollout.new, model=model, tags=_tags(name, version), environment=pinned
    )
    release = Release(
        env=env,
        endpoint=endpoint,
        reference=f"{name}:{version}",
        model=model,
        environment=spec.get("environment"),
        creates_endpoint=traffic is None,
        rollout=rollout,
        endpoint_spec=endpoint_spec(config, env),
        deployment_spec=spec,
        samples=samples,
        monitor_spec=_monitor(loaded, env, rollout.new, found),
    )
    return release, ml


def _monitor(
    loaded: LoadedConfig, env: str, deployment: str, model: ModelVersion
) -> dict[str, Any] | None:
    """The endpoint's monitor schedule on `deployment` against the data asset `model` was
    trained on (its `dataset_asset` tag, else mlops.yaml's asset), when the deployment collects
    its inputs and outputs; one schedule per endpoint, so each deploy moves it along."""
    from mlops.monitoring.schedule import baseline_asset, model_features, monitor_schedule

    config = loaded.config
    if not config.monitoring.collection:
        return None
    reference = f"{model.name}:{model.version}"
    return monitor_schedule(
        config,
        env,
        deployment=deployment,
        baseline=baseline_asset(config, model.tags, reference),
        features=model_features(config, loaded.root),
    )


def _reference(loaded: LoadedConfig, reference: str | None) -> tuple[str, str | None]:
    if reference is None:
        return model_name(loaded), None
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
    sleep: Callable[[float], None] = time.sleep,
    deployment_timeout: float = DEPLOYMENT_CREATE_TIMEOUT,
) -> Deployed:
    """Blue/green: the new deployment at 0%, smoke-tested directly, traffic moved by
    `deployment.traffic_steps` with a health check and smoke tests (the new deployment, and
    the endpoint as routed) after each, the old one removed. Anything that stops the rollout,
    an error, an interrupt or a deployment not ready within `deployment_timeout` seconds (an
    hour by default: image build, VMs, model download), puts traffic back on the old
    deployment and removes the new one first (`sleep`: the smoke retries' backoff)."""
    from mlops.backends.azure import aml, monitors

    release, ml = _prepare(loaded, env, reference, clients)
    rollout, endpoint, samples = release.rollout, release.endpoint, release.samples
    notify = on_event or (lambda *_: None)
    if release.creates_endpoint:
        notify("creating", f"endpoint {endpoint}")
        aml.create_endpoint(ml, release.endpoint_spec, loaded.root)
    result = Deployed(env, endpoint, rollout.new, release.model, rollout.old)
    notify("deploying", f"{rollout.new} ({release.reference}) at 0% of {endpoint}")
    try:
        aml.create_deployment(ml, release.deployment_spec, loaded.root, timeout=deployment_timeout)
        result.smoke += _smoke(ml, endpoint, rollout.new, samples, sleep)
        notify("smoke-tested", f"{rollout.new}: {len(samples)} request(s) answered")
        for step in rollout.steps:
            aml.set_traffic(ml, endpoint, step)
            result.traffic.append(step)
            notify("traffic", ", ".join(f"{d} {p}%" for d, p in step.items()))
            state = aml.deployment_state(ml, endpoint, rollout.new)
            if state != "Succeeded":
                raise BackendError(f"deployment {rollout.new} is {state}")
            result.smoke += _smoke(ml, endpoint, rollout.new, samples, sleep)
            result.smoke += _smoke(ml, endpoint, None, samples, sleep)
    except BaseException as exc:
        failure = _roll_back(ml, endpoint, rollout, notify, exc, release.reference)
        if failure is None:
            raise  # Ctrl-C, SIGTERM (`Terminated`), SystemExit: unwind as asked, traffic back
        raise failure from None
    if rollout.old:
        notify("removing", f"{rollout.old}")
        aml.delete_deployment(ml, endpoint, rollout.old)
    if release.monitor_spec is not None:
        # the new deployment serves all traffic: the monitor follows it (a failure here
        # leaves the release in place and says what to run: the model serves either way)
        notify("monitoring", f"{release.monitor_spec['name']} on {rollout.new}")
        monitors.create_monitor(ml, release.monitor_spec, loaded.root)
        result.monitor = release.monitor_spec["name"]
    return result


def pinned_environment(loaded: LoadedConfig, env: str, clients: AzureClients, ml: MLClient) -> str:
    """The exact environment version the new deployment runs in, so that every environment
    runs the image the one before it was tested with: after the second environment, the one
    its predecessor's serving deployment runs; before, deployment.environment's label
    resolved to the version it names now (a curated `@latest` moves when Microsoft publishes)."""
    from mlops.backends.azure import aml

    config = loaded.config
    order = list(config.environments.azure)
    if env in order and order.index(env) >= 2:
        previous = order[order.index(env) - 1]
        prev_ml = workspace(loaded, previous).client(clients)
        prev_endpoint = endpoint_name(config, previous)
        traffic = aml.endpoint_traffic(prev_ml, prev_endpoint) or {}
        serving = [d for d, share in traffic.items() if share == 100]
        running = aml.deployment_environments(prev_ml, prev_endpoint) if serving else {}
        if serving and serving[0] in running:
            return running[serving[0]]
    return aml.pin_environment(ml, clients.ml_system_registry, str(config.deployment.environment))


def _deployable_version(
    loaded: LoadedConfig, clients: AzureClients, ml: MLClient, name: str, version: str | None
) -> ModelVersion:
    """The exact version to deploy (with its lineage tags): it must already be where the
    endpoint reads it from."""
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
        return versions[0]
    found = aml.get_model(source, name, version)
    if found is None:
        raise BadInputError(
            f"model {name}:{version} is not in {where}",
            hint=f"promote it first: `mlops promote {name}:{version} --to ENV`",
        )
    return found


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


def _smoke(
    ml: MLClient,
    endpoint: str,
    deployment: str | None,
    samples: list[Path],
    sleep: Callable[[float], None],
) -> list[str]:
    """Each sample scored by the deployment itself or (`deployment=None`) by the endpoint as
    its traffic split routes it: an answer, as JSON, one row per input."""
    from mlops.backends.azure import aml

    who = deployment or f"{endpoint} (as routed)"
    out = []
    for sample in samples:
        answer = aml.invoke(ml, endpoint, deployment, sample, sleep=sleep)
        try:
            parsed = json.loads(answer)
        except (TypeError, ValueError):
            raise BackendError(f"smoke test: {who} answered non-JSON: {answer!r:.80}") from None
        rows = len(json.loads(sample.read_text(encoding="utf-8")).get("data", []))
        predictions = parsed.get("predictions", parsed) if isinstance(parsed, dict) else parsed
        if rows and (not isinstance(predictions, list) or len(predictions) != rows):
            raise BackendError(f"smoke test: {who} answered {answer!r:.80} for {rows} input rows")
        routed = "" if deployment else " (as routed)"
        out.append(f"{sample.name}{routed}: {rows} prediction(s)")
    return out


def _roll_back(
    ml: MLClient,
    endpoint: str,
    rollout: Rollout,
    notify: OnEvent,
    exc: BaseException,
    model: str,
) -> BackendError | None:
    """Traffic back where it was and the new deployment removed, whatever stopped the rollout.

    For an error, the BackendError to raise instead: what failed (its type when not ours),
    where traffic stays, and the new deployment's last log lines (read before it goes), or,
    when the rollback itself failed, what it left. For an interrupt None, so the caller
    re-raises it as it is (a failed rollback is announced and noted on it)."""
    from mlops.backends.azure import aml

    interrupted = not isinstance(exc, Exception)
    logs = None if interrupted else aml.deployment_logs(ml, endpoint, rollout.new)
    left = _restore(ml, endpoint, rollout, notify)
    if interrupted:
        if left:
            notify("rollback failed", left)
            exc.add_note(f"rollback of {rollout.new} on {endpoint} failed: {left}")
        return None
    cause = exc.message if isinstance(exc, MlopsError) else f"{type(exc).__name__}: {exc}"
    hint = exc.hint if isinstance(exc, MlopsError) else None
    if left:
        message = f"{rollout.new} ({model}) on {endpoint} failed: {cause}; {left}"
        hint = _manual_rollback(endpoint, rollout)
    else:
        where = f"traffic stays on {rollout.old}" if rollout.old else "nothing serves yet"
        message = f"rolled back {rollout.new} ({model}) on {endpoint}: {cause}; {where}"
    if logs:
        message += f"\nlast log lines of {rollout.new}:\n{logs}"
    return BackendError(message, hint=hint or "see the deployment's logs in the studio (Endpoints)")


def _restore(ml: MLClient, endpoint: str, rollout: Rollout, notify: OnEvent) -> str | None:
    """None once traffic is back and the new deployment gone; otherwise what is left. Each
    call is bounded (the backend's timeouts), so a stuck rollback ends, and says so."""
    from mlops.backends.azure import aml

    notify("rolling back", ", ".join(f"{d} {p}%" for d, p in rollout.rollback.items()))
    try:
        current = aml.endpoint_traffic(ml, endpoint) or {}
        if current.get(rollout.new):
            aml.set_traffic(ml, endpoint, rollout.rollback)
        if rollout.new in aml.deployments(ml, endpoint):
            aml.delete_deployment(ml, endpoint, rollout.new)
    except Exception as exc:
        why = exc.message if isinstance(exc, MlopsError) else f"{type(exc).__name__}: {exc}"
        return f"the rollback failed ({why}); {_left(ml, endpoint, rollout)}"
    return None


def _left(ml: MLClient, endpoint: str, rollout: Rollout) -> str:
    """What a failed rollback left, as read back from Azure (or that it cannot be read)."""
    from mlops.backends.azure import aml

    try:
        traffic = aml.endpoint_traffic(ml, endpoint) or {}
        exists = rollout.new in aml.deployments(ml, endpoint)
    except Exception:
        return f"deployment {rollout.new} may still exist and take traffic on {endpoint}"
    split = ", ".join(f"{d} {p}%" for d, p in traffic.items()) or "none"
    there = "still exists" if exists else "is removed"
    return f"left: deployment {rollout.new} {there}, traffic of {endpoint}: {split}"


def _manual_rollback(endpoint: str, rollout: Rollout) -> str:
    put_back = ""
    if rollout.old:
        put_back = (
            f"`az ml online-endpoint update -n {endpoint} --traffic {rollout.old}=100`, then "
        )
    return (
        f"finish it by hand: {put_back}`az ml online-deployment delete -e {endpoint}"
        f" -n {rollout.new} --yes`"
    )
