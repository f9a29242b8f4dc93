"""Local deployment use cases: deploy, stop, list, serve and smoke-test the model's endpoint."""

from __future__ import annotations

import json
import os
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.config import LoadedConfig, display_path
from mlops.errors import BackendError, ConfigError, NotFoundError, PipelineError
from mlops.services.run import state_dir

if TYPE_CHECKING:
    from mlops.environments import EnvSpec

#: what a local endpoint or `mlops serve` runs in when --env-mode is current
CURRENT = "current"


def scoring_code(loaded: LoadedConfig) -> tuple[Path, Path]:
    """The code folder to serve from and the scoring script inside it.

    The code folder is the first parent of `model.scoring_script` that is not a Python
    package, so `from diagnosis.schema import ...` works as it does in Azure ML.
    """
    model = loaded.config.model
    if model is None or model.scoring_script is None:
        raise ConfigError(
            "mlops.yaml names no scoring script to serve",
            hint="add to mlops.yaml:\nmodel:\n  scoring_script: src/<package>/score.py",
        )
    script = (loaded.root / model.scoring_script).resolve()
    if not script.is_file():
        raise ConfigError(
            f"model.scoring_script {model.scoring_script} does not exist",
            hint=f"looked for {script}; fix the path in mlops.yaml",
        )
    root = script.parent
    while (root / "__init__.py").exists():
        root = root.parent
    return root, script


def serving_environment(
    loaded: LoadedConfig, mode: str | None = None, *, hint: str | None = None
) -> EnvSpec:
    """deployment.environment resolved as a pipeline step's environment is, so the local
    endpoint runs in what the Azure deployment's image holds: a curated environment's
    published pins. `mode` as for `mlops run` ("current": the CLI's own environment).

    Raises ConfigError, located in mlops.yaml, for an environment this machine cannot
    rebuild (one registered in a workspace), with `hint` or a hint for serving."""
    from mlops.environments import resolve
    from mlops.services.run import env_mode

    chosen = env_mode(mode)
    reference = loaded.config.deployment.environment
    try:
        return resolve(reference, base=loaded.root, file=loaded.path, mode=chosen)  # type: ignore[arg-type]
    except PipelineError as exc:
        hint = hint or (
            "serve it in this CLI's environment: --env-mode current (or MLOPS_ENV_MODE=current),"
            " or use a curated environment, e.g. deployment.environment:"
            " azureml://registries/azureml/environments/sklearn-1.5/labels/latest"
        )
        shown = f"{display_path(loaded.path)}: "
        problem = exc.message.removeprefix(shown)
        issue = loaded.issue(("deployment", "environment"), problem, hint)
        raise ConfigError(
            f"{display_path(loaded.path)} names a deployment.environment this machine cannot"
            " rebuild",
            hint=hint,
            issues=[issue],
        ) from None


def serving_bin(
    spec: EnvSpec, progress: Callable[[str], None] = lambda message: None
) -> Path | None:
    """The `bin` folder the server runs from (built once, cached as steps' environments
    are); None for the CLI's own environment."""
    from mlops.environments.builder import ensure

    return ensure(spec, on_progress=progress, used_by="mlops.yaml deployment.environment")


def environment_label(spec: EnvSpec) -> str:
    """How an endpoint's environment is recorded and shown: a built environment's digest
    (so a changed environment redeploys), else "current"."""
    return spec.digest[:12] if spec.isolated else CURRENT


def model_name(loaded: LoadedConfig) -> str:
    model = loaded.config.model
    return (model.name if model and model.name else None) or loaded.config.project.name


def resolve_model(loaded: LoadedConfig, reference: str | None):
    """The registered version to serve: `reference`, else the configured model's champion."""
    from mlops.services import models

    return models.show(state_dir(loaded), reference or model_name(loaded))


def endpoint_name(loaded: LoadedConfig) -> str:
    """deployment.endpoint_name; loading the config always fills it (default <project>-online)."""
    return str(loaded.config.deployment.endpoint_name)


def endpoints(loaded: LoadedConfig):
    from mlops.backends.local.serving import LocalEndpoints

    return LocalEndpoints(state_dir(loaded))


def deploy_local(
    loaded: LoadedConfig,
    reference: str | None = None,
    *,
    port: int | None = None,
    mode: str | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> tuple[Any, bool]:
    """Serve a registered version locally, in deployment.environment (see
    `serving_environment`); (endpoint, started) where started is False when that version was
    already serving healthy in the same environment (on the requested port, if one is given).

    Deploys of one endpoint take turns, so two at once leave one healthy server."""
    from mlops.backends.local.serving import HEALTHY, ServerSpec, server_shim
    from mlops.monitoring.collection import local_collection
    from mlops.services.models import registry

    spec = serving_environment(loaded, mode)
    version = resolve_model(loaded, reference)
    name = endpoint_name(loaded)
    local = endpoints(loaded)
    state = state_dir(loaded)
    code = _version_scoring_code(loaded, version)
    max_bytes = loaded.config.deployment.max_request_bytes
    label = environment_label(spec)
    bin_dir = serving_bin(spec, progress)  # before the lock: a build may take a while
    shim = server_shim(local.folder / ".server") if bin_dir is not None else None
    collection = local_collection(loaded, version.name, version.version, isolated=spec.isolated)
    with local.lock(name, progress=progress):
        current = local.get(name)
        # switching monitoring.collection on or off restarts the server
        same = current is not None and (
            current.model,
            current.version,
            current.environment,
            current.collecting,
        ) == (version.name, version.version, label, collection is not None)
        if same and port in (None, current.port) and local.status(current) == HEALTHY:
            return current, False
        endpoint = local.deploy(
            name,
            version.name,
            version.version,
            lambda model_dir, chosen: ServerSpec(
                *code(model_dir.parents[2] / "code"),
                model_dir,
                _workers(),
                chosen,
                max_bytes,
                bin_dir,
                shim,
                collection,
            ),
            fetch_model=lambda model_dir: registry(state).download(
                version.name, version.version, model_dir
            ),
            port=port,
            progress=progress,
            environment=label,
        )
    return endpoint, True


def _version_scoring_code(
    loaded: LoadedConfig, version: Any
) -> Callable[[Path], tuple[Path, Path]]:
    """Where a version's scoring code comes from, given a folder to put it in: its own
    script when it was registered with one (`mlops models register --scoring-script`), else
    model.scoring_script from mlops.yaml (checked now, before anything starts)."""
    from mlops.backends.local.model_import import SCORING_TAG, download_scoring_script

    artifact = version.tags.get(SCORING_TAG)
    if artifact is None or version.run_id is None:
        configured = scoring_code(loaded)
        return lambda folder: configured

    def fetch(folder: Path) -> tuple[Path, Path]:
        script = download_scoring_script(state_dir(loaded), version.run_id, artifact, folder)
        return script.parent, script

    return fetch


def stop_local(loaded: LoadedConfig) -> tuple[Any, str] | None:
    """Stop the local endpoint: (endpoint, what was found) or None when none was deployed."""
    name = endpoint_name(loaded)
    local = endpoints(loaded)
    with local.lock(name):
        return local.stop(name)


def endpoint_statuses(loaded: LoadedConfig) -> list[tuple[Any, str]]:
    local = endpoints(loaded)
    return [(e, local.status(e)) for e in local.list()]


def _workers() -> int:
    return int(os.environ.get("MLOPS_SERVER_WORKERS", os.cpu_count() or 1))


@dataclass
class SmokeResult:
    url: str
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "url": self.url, "checks": self.checks}


def smoke_local(
    loaded: LoadedConfig, repeats: int = 5, requests: list[Path] | None = None
) -> SmokeResult:
    """Send `requests`, else the sample request(s) from mlops.yaml; check status, the
    published output schema (when the script declares one) and one answer per row."""
    from mlops.backends.local.serving import HEALTHY

    name = endpoint_name(loaded)
    local = endpoints(loaded)
    endpoint = local.get(name)
    if endpoint is None:
        raise NotFoundError(
            f"endpoint '{name}' is not deployed locally", hint="run `mlops deploy --env local`"
        )
    status = local.status(endpoint)
    if status != HEALTHY:
        raise BackendError(
            f"endpoint '{name}' is {status}", hint=f"see {endpoint.log}, then deploy again"
        )
    schema = _response_schema(endpoint.swagger)
    result = SmokeResult(endpoint.url)
    for sample in _request_files(requests) if requests else _samples(loaded):
        body = sample.read_bytes()
        rows = _rows(body)
        latencies, status_code, answer = [], 0, None
        for _ in range(repeats):
            started = time.perf_counter()
            status_code, answer = _post(endpoint.url, body)
            latencies.append((time.perf_counter() - started) * 1000)
        problems = _check(status_code, answer, schema, rows)
        result.checks.append(
            {
                "sample": _shown(sample, loaded.root),
                "status": status_code,
                "ok": not problems,
                "problems": problems,
                # a script without @output_schema publishes none: answers are not checked
                # against a schema then, only for status and one answer per row
                "output_schema": schema is not None,
                "latency_ms": {
                    "median": round(statistics.median(latencies), 2),
                    "max": round(max(latencies), 2),
                },
            }
        )
    return result


def _samples(loaded: LoadedConfig) -> list[Path]:
    model = loaded.config.model
    if model is None or model.sample_request is None:
        raise ConfigError(
            "mlops.yaml names no sample request",
            hint="add to mlops.yaml:\nmodel:\n  sample_request: path/to/request.json",
        )
    path = (loaded.root / model.sample_request).resolve()
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise ConfigError(f"model.sample_request {model.sample_request} has no JSON request")
    return files


def _request_files(paths: list[Path]) -> list[Path]:
    """--request files or folders of *.json; BadInputError naming --request."""
    from mlops.errors import BadInputError

    files: list[Path] = []
    for path in paths:
        found = sorted(path.glob("*.json")) if path.is_dir() else [path]
        if not found or not all(f.is_file() for f in found):
            raise BadInputError(
                f"--request: {path} has no JSON request",
                hint="give a JSON file (or a folder of them), e.g. sample-request.json",
            )
        files += [f.resolve() for f in found]
    return files


def _rows(body: bytes) -> int | None:
    """How many answers the request asks for: the rows of its `data`, when it has them."""
    try:
        request = json.loads(body)
    except ValueError:
        return None
    data = request.get("data") if isinstance(request, dict) else None
    return len(data) if isinstance(data, list) else None


def _shown(path: Path, root: Path) -> str:
    """A sample's path as people read it: relative to the project when inside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:  # a sample outside the project (`model.sample_request: ../x.json`)
        return display_path(path.resolve())


def _post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (OSError, ValueError) as exc:
        return 0, str(exc)


def _response_schema(swagger_url: str) -> dict[str, Any] | None:
    """The 200 response schema the server publishes from the script's @output_schema."""
    try:
        with urllib.request.urlopen(swagger_url, timeout=10) as response:
            swagger = json.loads(response.read())
        schema = swagger["paths"]["/score"]["post"]["responses"]["200"]["schema"]
    except (OSError, ValueError, KeyError):
        return None
    definitions = swagger.get("definitions", {})
    if definitions.get("ServiceOutput") == _UNDECLARED and schema.get("$ref", "").endswith(
        "/ServiceOutput"
    ):
        return None  # the server's placeholder for a run() without @output_schema
    # its $ref points into the document's definitions: carry them along
    return {**schema, "definitions": definitions}


#: what azureml-inference-server-http publishes as the output schema of an undecorated run()
_UNDECLARED = {"type": "object", "example": {}}


def _check(status: int, answer: Any, schema: dict[str, Any] | None, rows: int | None) -> list[str]:
    """Problems with one answer: not 200; not what the published output schema says (a
    script without @output_schema publishes none: any JSON answer passes that check); not
    one answer per row, for an answer that is a list or a mapping of lists."""
    if status != 200:
        return [f"expected status 200, got {status}: {str(answer)[:300]}"]
    problems: list[str] = []
    if schema is not None:
        import jsonschema

        validator = jsonschema.Draft4Validator(schema)  # Swagger 2 schemas are draft 4
        problems = [
            f"{'/'.join(map(str, e.path)) or 'response'}: {e.message}"
            for e in validator.iter_errors(answer)
        ]
    if problems or rows is None:
        return problems
    if isinstance(answer, list) and len(answer) != rows:
        problems.append(f"response: {len(answer)} answers for {rows} rows")
    elif isinstance(answer, dict):
        for key, values in answer.items():
            if isinstance(values, list) and len(values) != rows:
                problems.append(f"{key}: {len(values)} values for {rows} rows")
    return problems


def serve_foreground(
    loaded: LoadedConfig,
    reference: str | None,
    port: int,
    *,
    mode: str | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> int:
    """The same server as a local deployment, in the foreground, until it exits or this process
    gets SIGTERM, SIGINT or SIGHUP (then the server's whole process tree is stopped).

    Returns its exit code, or 128 + the signal's number when stopped by one."""
    from filelock import FileLock

    from mlops.backends.local import processes
    from mlops.backends.local.serving import ServerSpec, server_shim
    from mlops.monitoring.collection import local_collection
    from mlops.services.models import registry

    processes.ensure_port_free(port)
    spec = serving_environment(loaded, mode)
    version = resolve_model(loaded, reference)
    code = _version_scoring_code(loaded, version)
    serve = state_dir(loaded) / "serve"
    model_dir = serve / "azureml-models" / version.name / version.version
    serve.mkdir(parents=True, exist_ok=True)
    with FileLock(serve / ".lock"):  # two `mlops serve` at once download it once
        if not model_dir.is_dir() or not any(model_dir.iterdir()):
            registry(state_dir(loaded)).download(version.name, version.version, model_dir)
        code_root, script = code(serve / "code" / version.name / version.version)
    bin_dir = serving_bin(spec, progress)
    server = ServerSpec(
        code_root,
        script,
        model_dir,
        _workers(),
        port,
        loaded.config.deployment.max_request_bytes,
        bin_dir,
        server_shim(serve / ".server") if bin_dir is not None else None,
        local_collection(loaded, version.name, version.version, isolated=spec.isolated),
    )
    where = spec.source if spec.isolated else "this CLI's environment"
    progress(f"serving {version.name}:{version.version} at {server.url} in {where}")
    return processes.run_foreground(server.command(), cwd=code_root, env=server.environment())
