"""Azure ML through the real `azure-ai-ml` SDK: pipeline jobs, models, the registry, endpoints.

Nothing above this module sees an SDK entity: jobs come back as `JobState`, models as the
same `ModelVersion` records the local registry gives. The SDK warns on import (marshmallow)
and prints progress dots to stdout while it waits on deployments; `quiet()` keeps both out of
the tool's output, so `--output json` stays parseable.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.backends.azure.calls import call
from mlops.backends.local.registry import ModelVersion
from mlops.errors import BackendError

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

#: job states after which nothing changes
TERMINAL = frozenset({"Completed", "Failed", "Canceled", "NotResponding"})
DENIED_HINT = (
    "the signed-in identity needs a role on the workspace that allows it (see `mlops rbac"
    " matrix`); pipelines use their environment's CI/CD identity"
)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """SDK warnings silenced, its stdout (progress dots) sent to stderr, and its announcements
    of experimental classes (logged as warnings when schemas load) kept out."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            _quiet_loggers()


def _quiet_loggers() -> None:
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("azure.ai.ml"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _call(fn: Any, what: str) -> Any:
    """`call()` plus the SDK's own exceptions (validation, job and asset errors)."""
    from azure.ai.ml.exceptions import MlException

    with quiet():
        try:
            return call(fn, what, denied_hint=DENIED_HINT)
        except MlException as exc:
            raise BackendError(f"{what} failed: {exc.message}") from None


# --- pipeline jobs ----------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    name: str
    status: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobState:
    name: str
    status: str
    url: str
    steps: tuple[Step, ...] = ()

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)


def _status(value: Any) -> str:
    return str(getattr(value, "value", value) or "Unknown")


def submit(
    ml: MLClient,
    path: Path,
    *,
    experiment: str,
    inputs: dict[str, str],
    tags: dict[str, str],
) -> JobState:
    """Submit a pipeline job YAML with literal inputs set; the code goes up as Azure ML does."""

    def create() -> Any:
        from azure.ai.ml import load_job

        job = load_job(path, params_override=_overrides(path, inputs))
        job.tags = {**(job.tags or {}), **_dataset_tags(job), **tags}
        return ml.jobs.create_or_update(job, experiment_name=experiment)

    created = _call(create, f"submitting {path.name}")
    return JobState(created.name, _status(created.status), created.studio_url or "")


def _overrides(path: Path, inputs: dict[str, str]) -> list[dict[str, Any]]:
    """`inputs.NAME` overrides for the job's literal inputs, typed like the YAML's values
    (the SDK keeps a string a string, and Azure ML would reject it for a number)."""
    from mlops.pipeline.spec import read_yaml

    declared = read_yaml(path).get("inputs") or {}  # within mlops.limits, as locally
    out = []
    for name, value in inputs.items():
        default = declared.get(name, ...)
        if default is ... or isinstance(default, dict):
            continue  # undeclared, or data (its path comes from the YAML)
        out.append({f"inputs.{name}": _typed(default, value)})
    return out


def _typed(default: Any, value: str) -> Any:
    if isinstance(default, bool):
        return value.strip().lower() in ("true", "1", "yes")
    if isinstance(default, int | float):
        number = float(value)
        return int(number) if isinstance(default, int) and number.is_integer() else number
    return value


def _dataset_tags(job: Any) -> dict[str, str]:
    """dataset_name and dataset_version of the first `azureml:NAME:VERSION` data input."""
    for value in job.inputs.values():
        data = getattr(value, "_data", None)  # the SDK's Input of a data input
        path = str(getattr(data, "path", None) or "")
        parts = path.removeprefix("azureml:").split(":")
        if len(parts) == 2 and all(parts) and "/" not in path:
            return {"dataset_name": parts[0], "dataset_version": parts[1]}
    return {}


def job_state(ml: MLClient, name: str) -> JobState:
    """The job's status and each step's, with the tags steps set (the gate's decision)."""

    def read() -> JobState:
        job = ml.jobs.get(name)
        steps = tuple(
            Step(child.display_name or child.name, _status(child.status), dict(child.tags or {}))
            for child in ml.jobs.list(parent_job_name=name)
        )
        return JobState(job.name, _status(job.status), job.studio_url or "", steps)

    return _call(read, f"reading job {name}")


# --- models -----------------------------------------------------------------------------


def _record(model: Any) -> ModelVersion:
    created = getattr(getattr(model, "creation_context", None), "created_at", None)
    return ModelVersion(
        name=model.name,
        version=str(model.version),
        aliases=[],
        created_ms=int(created.timestamp() * 1000) if created else 0,
        tags=dict(model.tags or {}),
        description=model.description or "",
        run_id=getattr(model, "job_name", None),
        source=str(model.path or model.id or ""),
    )


def model_names(ml: MLClient) -> list[str]:
    return _call(lambda: sorted(m.name for m in ml.models.list()), "listing models")


def model_versions(ml: MLClient, name: str) -> list[ModelVersion]:
    """Every version of `name`, newest first ([] when the model is unknown)."""
    from azure.core.exceptions import ResourceNotFoundError

    def read() -> list[ModelVersion]:
        try:
            found = [_record(m) for m in ml.models.list(name=name)]
        except ResourceNotFoundError:
            return []
        return sorted(found, key=lambda v: _version_key(v.version), reverse=True)

    return _call(read, f"listing versions of {name}")


def get_model(ml: MLClient, name: str, version: str) -> ModelVersion | None:
    from azure.core.exceptions import ResourceNotFoundError

    def read() -> ModelVersion | None:
        try:
            return _record(ml.models.get(name, version=version))
        except ResourceNotFoundError:
            return None

    return _call(read, f"reading model {name}:{version}")


def share_model(ml: MLClient, name: str, version: str, registry: str) -> None:
    """Copy a workspace model version into the registry (same name and version, same bits,
    its tags and properties with it)."""
    _call(
        lambda: ml.models.share(
            name=name,
            version=version,
            registry_name=registry,
            share_with_name=name,
            share_with_version=version,
        ),
        f"copying {name}:{version} into registry {registry}",
    )


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (-1, version)


# --- online endpoints -------------------------------------------------------------------


def endpoint_traffic(ml: MLClient, endpoint: str) -> dict[str, int] | None:
    """The endpoint's traffic split, or None when there is no such endpoint."""
    from azure.core.exceptions import ResourceNotFoundError

    def read() -> dict[str, int] | None:
        try:
            found = ml.online_endpoints.get(endpoint)
        except ResourceNotFoundError:
            return None
        return {k: int(v) for k, v in (found.traffic or {}).items()}

    return _call(read, f"reading endpoint {endpoint}")


def _load(kind: str, spec: dict[str, Any], root: Path) -> Any:
    from mlops.serialize import dump_yaml

    with quiet():
        from azure.ai.ml import load_online_deployment, load_online_endpoint

        loader = load_online_endpoint if kind == "endpoint" else load_online_deployment
        # relative paths resolve against the folder of `relative_origin`, a file's path
        return loader(io.StringIO(dump_yaml(spec)), relative_origin=str(root / "mlops.yaml"))


def create_endpoint(ml: MLClient, spec: dict[str, Any], root: Path) -> None:
    endpoint = _load("endpoint", spec, root)
    _call(
        lambda: ml.online_endpoints.begin_create_or_update(endpoint).result(),
        f"creating endpoint {spec['name']}",
    )


def create_deployment(ml: MLClient, spec: dict[str, Any], root: Path) -> None:
    """Create or replace a deployment (at whatever traffic the endpoint gives it: none yet)."""
    deployment = _load("deployment", spec, root)
    _call(
        lambda: ml.online_deployments.begin_create_or_update(deployment).result(),
        f"deploying {spec['name']} to endpoint {spec['endpoint_name']}",
    )


def deployment_state(ml: MLClient, endpoint: str, name: str) -> str:
    found = _call(lambda: ml.online_deployments.get(name, endpoint), f"reading deployment {name}")
    return _status(found.provisioning_state)


def set_traffic(ml: MLClient, endpoint: str, traffic: dict[str, int]) -> None:
    def update() -> None:
        found = ml.online_endpoints.get(endpoint)
        found.traffic = dict(traffic)
        ml.online_endpoints.begin_create_or_update(found).result()

    _call(update, f"setting traffic of {endpoint} to {traffic}")


def invoke(ml: MLClient, endpoint: str, deployment: str, request: Path) -> str:
    """Score `request` on one deployment directly (not through the traffic split)."""

    def score() -> str:
        try:
            return ml.online_endpoints.invoke(
                endpoint_name=endpoint, request_file=str(request), deployment_name=deployment
            )
        except (AttributeError, TypeError) as exc:
            # the SDK reads an error answer's `error` as an object; a scoring script that
            # answers {"error": "text"} (ours does, with 400) makes it fail on `.get`
            raise BackendError(f"{deployment} answered with an error ({exc})") from None

    return _call(score, f"scoring {request.name} on {endpoint}/{deployment}")


def delete_deployment(ml: MLClient, endpoint: str, name: str) -> None:
    _call(
        lambda: ml.online_deployments.begin_delete(name, endpoint).result(),
        f"removing deployment {name} from {endpoint}",
    )


def deployments(ml: MLClient, endpoint: str) -> dict[str, str]:
    """Deployment name -> the model it serves."""
    return _call(
        lambda: {d.name: str(d.model) for d in ml.online_deployments.list(endpoint)},
        f"listing deployments of {endpoint}",
    )
