"""Azure ML through the real `azure-ai-ml` SDK: pipeline jobs, models, the registry, endpoints.

Nothing above this module sees an SDK entity: jobs come back as `JobState`, models as the
same `ModelVersion` records the local registry gives. The SDK warns on import (marshmallow)
and prints progress dots to stdout while it waits on deployments; `quiet()` keeps both out of
the tool's output, so `--output json` stays parseable.
"""

from __future__ import annotations

import contextlib
import email.utils
import io
import logging
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.backends.azure.calls import call
from mlops.backends.local.registry import ModelVersion
from mlops.errors import BackendError, NotFoundError

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

#: job states after which nothing changes
TERMINAL = frozenset({"Completed", "Failed", "Canceled", "NotResponding"})
DENIED_HINT = (
    "the signed-in identity needs a role on the workspace that allows it (see `mlops rbac"
    " matrix`); pipelines use their environment's CI/CD identity"
)
#: longest waits (seconds) on Azure ML's long-running operations, so a stuck one fails the
#: release (and rollback) instead of hanging it: creating an endpoint takes 1-5 minutes;
#: a deployment 5-20 (image build, VMs, model download; a first image build more);
#: a traffic change under a minute; removing a deployment a few minutes (VMs released)
ENDPOINT_CREATE_TIMEOUT = 20 * 60
DEPLOYMENT_CREATE_TIMEOUT = 60 * 60
TRAFFIC_UPDATE_TIMEOUT = 10 * 60
DELETE_TIMEOUT = 20 * 60
#: smoke requests: tries, the backoff before each retry, and the longest Retry-After honoured
SCORE_TRIES = 4
SCORE_BACKOFF = (1.0, 2.0, 4.0)
SCORE_MAX_RETRY_AFTER = 60.0
#: answers worth another try: throttled (one instance, one concurrent request) or not ready
RETRYABLE_STATUS = frozenset({429, 503})


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
        if default is ...:
            continue  # undeclared (refused before the call: services.azure_ml.training)
        if isinstance(default, dict):  # data: an Azure reference replaces its path
            out.append({f"inputs.{name}.path": value})
        else:
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
    """dataset_name and dataset_version of the first `azureml:NAME:VERSION` data input, and
    the reference itself as dataset_asset (the register step copies it onto the model: the
    baseline of its monitor, mlops.monitoring.schedule.baseline_asset)."""
    for value in job.inputs.values():
        data = getattr(value, "_data", None)  # the SDK's Input of a data input
        path = str(getattr(data, "path", None) or "")
        parts = path.removeprefix("azureml:").split(":")
        if len(parts) == 2 and all(parts) and "/" not in path:
            return {
                "dataset_name": parts[0],
                "dataset_version": parts[1],
                "dataset_asset": f"azureml:{parts[0]}:{parts[1]}",
            }
    return {}


def job_state(ml: MLClient, name: str) -> JobState:
    """The job's status and each step's, with the tags steps set (the gate's decision);
    NotFoundError when the workspace has no such job (a name mistyped is no failed poll)."""
    from azure.core.exceptions import ResourceNotFoundError

    def read() -> JobState:
        try:
            job = ml.jobs.get(name)
        except ResourceNotFoundError:
            raise NotFoundError(f"no job {name} in the workspace") from None
        steps = tuple(
            Step(child.display_name or child.name, _status(child.status), dict(child.tags or {}))
            for child in ml.jobs.list(parent_job_name=name)
        )
        return JobState(job.name, _status(job.status), job.studio_url or "", steps)

    return _call(read, f"reading job {name}")


def data_runs(ml: MLClient, tag: str) -> list[tuple[str, dict[str, str]]]:
    """(status, tags) of the workspace's active jobs that carry the tag key `tag`: the service
    filters on the key (`GET .../jobs?tag=KEY`, learn.microsoft.com/rest/api/azureml/jobs/list:
    "Jobs returned will have this tag key"); archived jobs are left out as the studio does."""

    def read() -> list[tuple[str, dict[str, str]]]:
        return [
            (_status(job.status), dict(job.tags or {}))
            for job in ml.jobs.list(tag=tag)
            if job is not None  # the SDK yields None for a job it cannot parse
        ]

    return _call(read, f"listing jobs tagged {tag}")


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


def _finish(poller: Any, timeout: float, what: str) -> Any:
    """The operation's result, waiting at most `timeout` seconds: the SDK's `result()` would
    wait forever, and with a timeout hands an unfinished answer to the SDK's deserializer,
    which fails on it (AttributeError) before anyone can say the wait ran out."""
    poller.wait(timeout=timeout)
    if not poller.done():
        waited = f"{timeout / 60:g} min" if timeout >= 60 else f"{timeout:g} s"
        raise BackendError(
            f"{what}: timed out, not finished after {waited}; it may still be going on in Azure",
            hint="check its state in the studio (Endpoints) or with `az ml online-endpoint show`"
            " before trying again",
        )
    return poller.result()


def create_endpoint(ml: MLClient, spec: dict[str, Any], root: Path) -> None:
    endpoint = _load("endpoint", spec, root)
    what = f"creating endpoint {spec['name']}"
    _call(
        lambda: _finish(
            ml.online_endpoints.begin_create_or_update(endpoint), ENDPOINT_CREATE_TIMEOUT, what
        ),
        what,
    )


def create_deployment(
    ml: MLClient,
    spec: dict[str, Any],
    root: Path,
    *,
    timeout: float = DEPLOYMENT_CREATE_TIMEOUT,
) -> None:
    """Create or replace a deployment (at whatever traffic the endpoint gives it: none yet),
    waiting at most `timeout` seconds for Azure ML to finish it."""
    deployment = _load("deployment", spec, root)
    what = f"deploying {spec['name']} to endpoint {spec['endpoint_name']}"
    _call(
        lambda: _finish(
            ml.online_deployments.begin_create_or_update(deployment),
            timeout,
            what,
        ),
        what,
    )


def deployment_state(ml: MLClient, endpoint: str, name: str) -> str:
    found = _call(lambda: ml.online_deployments.get(name, endpoint), f"reading deployment {name}")
    return _status(found.provisioning_state)


def set_traffic(ml: MLClient, endpoint: str, traffic: dict[str, int]) -> None:
    what = f"setting traffic of {endpoint} to {traffic}"

    def update() -> None:
        found = ml.online_endpoints.get(endpoint)
        found.traffic = dict(traffic)
        _finish(ml.online_endpoints.begin_create_or_update(found), TRAFFIC_UPDATE_TIMEOUT, what)

    _call(update, what)


def invoke(
    ml: MLClient,
    endpoint: str,
    deployment: str | None,
    request: Path,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Score `request` on one deployment directly, or (`deployment=None`) on the endpoint as
    its traffic split routes it. Throttling (429), 503 and dropped connections are retried
    with backoff, honouring Retry-After: a deployment at 10% may run one instance taking one
    request at a time, so a lone 429 says it is busy, not broken."""
    target = f"{endpoint}/{deployment}" if deployment else f"{endpoint} (as routed)"
    what = f"scoring {request.name} on {target}"
    for attempt in range(1, SCORE_TRIES + 1):
        try:
            return _call(lambda: _score(ml, endpoint, deployment, request, target), what)
        except _Busy as busy:
            if attempt == SCORE_TRIES:
                raise BackendError(
                    f"{what}: {busy.reason}, {attempt} tries",
                    hint="the deployment may need more instances, or a higher"
                    " request_settings.max_concurrent_requests_per_instance",
                ) from None
            wait = SCORE_BACKOFF[attempt - 1]
            sleep(busy.retry_after if busy.retry_after is not None else wait)
    raise AssertionError("unreachable")


class _Busy(Exception):
    """A scoring request worth another try; `retry_after`: what the answer asked for."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


def _score(ml: MLClient, endpoint: str, deployment: str | None, request: Path, target: str) -> str:
    """One scoring request; a busy or unreachable deployment raises `_Busy`."""
    from azure.ai.ml.constants._endpoint import EndpointInvokeFields
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    # the SDK (1.35) sets invoke headers in one shared dict: a deployment named once stays
    # named, and a request meant for the traffic split would go to that deployment instead
    headers = EndpointInvokeFields.DEFAULT_HEADER
    headers.pop(EndpointInvokeFields.MODEL_DEPLOYMENT, None)
    try:
        return ml.online_endpoints.invoke(
            endpoint_name=endpoint, request_file=str(request), deployment_name=deployment
        )
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise _Busy(f"no connection ({str(exc).splitlines()[0]})") from None
    except HttpResponseError as exc:
        if exc.status_code not in RETRYABLE_STATUS:
            raise
        raise _Busy(f"answered {exc.status_code}", _retry_after(exc)) from None
    except (AttributeError, TypeError) as exc:
        # the SDK reads an error answer's `error` as an object; a scoring script that
        # answers {"error": "text"} (ours does, with 400) makes it fail on `.get`
        raise BackendError(f"{target} answered with an error ({exc})") from None
    finally:
        headers.pop(EndpointInvokeFields.MODEL_DEPLOYMENT, None)


def _retry_after(exc: Any) -> float | None:
    """Retry-After of an error answer, in seconds (a number or an HTTP date), capped."""
    value = (getattr(exc.response, "headers", None) or {}).get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            at = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = at.timestamp() - time.time()
    return min(max(seconds, 0.0), SCORE_MAX_RETRY_AFTER)


def deployment_logs(ml: MLClient, endpoint: str, name: str, lines: int = 50) -> str | None:
    """The deployment's last log lines, or None when they cannot be read: they explain a
    failure, so reading them must never become the failure."""
    try:
        text = _call(
            lambda: ml.online_deployments.get_logs(name, endpoint, lines=lines),
            f"reading the logs of {name}",
        )
    except Exception:
        return None
    return str(text).strip() or None


def delete_deployment(ml: MLClient, endpoint: str, name: str) -> None:
    what = f"removing deployment {name} from {endpoint}"
    _call(
        lambda: _finish(ml.online_deployments.begin_delete(name, endpoint), DELETE_TIMEOUT, what),
        what,
    )


def deployments(ml: MLClient, endpoint: str) -> dict[str, str]:
    """Deployment name -> the model it serves."""
    return _call(
        lambda: {d.name: str(d.model) for d in ml.online_deployments.list(endpoint)},
        f"listing deployments of {endpoint}",
    )


def deployment_environments(ml: MLClient, endpoint: str) -> dict[str, str]:
    """Deployment name -> the environment id it runs in (an exact version once pinned)."""
    return _call(
        lambda: {
            d.name: str(d.environment)
            for d in ml.online_deployments.list(endpoint)
            if d.environment
        },
        f"listing deployments of {endpoint}",
    )


#: `azureml://registries/R/environments/N/labels/L` and `azureml:N@L`: what a label names
#: changes when Microsoft publishes a build; its version does not
_REGISTRY_LABEL = re.compile(
    r"^azureml://registries/(?P<reg>[^/]+)/environments?/(?P<name>[^/]+)/labels/(?P<label>[^/]+)$"
)
_WORKSPACE_LABEL = re.compile(r"^azureml:(?P<name>[^:@/]+)@(?P<label>[^:@/]+)$")


def pin_environment(ml: MLClient, registry_client: Any, reference: str) -> str:
    """The exact version `reference` names now: a label (`latest`) resolved to its version,
    in the registry it names (`registry_client(name)` gives that registry's MLClient) or in
    the workspace of `ml`. A reference already naming a version is returned as it is."""
    if m := _REGISTRY_LABEL.match(reference):
        found = _call(
            lambda: registry_client(m["reg"]).environments.get(m["name"], label=m["label"]),
            f"resolving environment {reference}",
        )
        return f"azureml://registries/{m['reg']}/environments/{m['name']}/versions/{found.version}"
    if m := _WORKSPACE_LABEL.match(reference):
        found = _call(
            lambda: ml.environments.get(m["name"], label=m["label"]),
            f"resolving environment {reference}",
        )
        return f"azureml:{m['name']}:{found.version}"
    return reference
