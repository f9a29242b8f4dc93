"""Local online endpoints: azureml-inference-server-http processes, with state in `.mlops/`.

A deployment lays out the model as Azure ML does (`AZUREML_MODEL_DIR/NAME/VERSION/model`)
in a folder of its own, starts the server in the background on 127.0.0.1 and records pid,
the pid's start time, port, model and log in `.mlops/endpoints/NAME.json`. Deploys of one
endpoint take turns (a file lock beside that file); a new version starts beside the old one,
which is stopped, and its folder removed, only once the new one is healthy. A recorded pid
is signalled only while it is still the server that was started (pids get reused).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlops.backends.local import processes
from mlops.backends.local.shims import SERVER_PACKAGE
from mlops.errors import BackendError

HEALTHY, UNHEALTHY, CRASHED = "healthy", "unhealthy", "crashed"
STOPPED, NOT_RUNNING, PID_REUSED = "stopped", "not running", "not running (pid reused)"
SERVER_MODULE = "mlops.backends.local._inference_server"
# Azure ML managed online endpoints refuse request payloads over 1.5 MB (413), see
# https://learn.microsoft.com/azure/machine-learning/how-to-troubleshoot-online-endpoints
# ("HTTP status codes"); the local endpoint defaults to the same limit.
DEFAULT_MAX_REQUEST_BYTES = 1_500_000


@dataclass(frozen=True)
class Endpoint:
    name: str
    model: str
    version: str
    pid: int
    port: int
    log: str
    folder: str
    started: str
    created: float | None = None  # the pid's start time: tells our server from a reused pid
    environment: str = ""  # what it runs in: the built environment's digest, or "current"
    collecting: bool = False  # whether it collects its inputs and outputs (monitoring)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/score"

    @property
    def swagger(self) -> str:
        return f"http://127.0.0.1:{self.port}/swagger.json"

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "url": self.url, "swagger": self.swagger}


@dataclass(frozen=True)
class Collection:
    """Production data collection of a local endpoint (monitoring.collection): the data
    collector agent of `_front_end` writes the scoring script's model_inputs and
    model_outputs under `folder`, in Azure ML's layout (see `collection_folder`)."""

    folder: Path
    source: str  # the records' `source`: the endpoint and deployment they came from
    sampling_rate: float = 1.0  # share of requests collected, as the deployment's data_collector

    def environment(self) -> dict[str, str]:
        """What the server's entry point reads to start the agent (see `_front_end`)."""
        return {
            "MLOPS_COLLECT_DIR": str(self.folder),
            "MLOPS_COLLECT_SOURCE": self.source,
            # azureml-ai-monitoring samples by whole percent (AZUREML_MDC_SAMPLE_RATE)
            "MLOPS_COLLECT_SAMPLE_RATE": str(max(1, round(self.sampling_rate * 100))),
        }


#: Azure ML's blob folder of collected data, mirrored under the state dir:
#: modelDataCollector/<endpoint>/<deployment>/<collection>/yyyy/MM/dd/HH/<instance>.jsonl
#: (https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data)
COLLECTED = "modelDataCollector"


def collection_folder(state_dir: Path, endpoint: str, model: str, version: str) -> Path:
    """Where a local endpoint's collected data goes: one deployment per served version."""
    return state_dir / COLLECTED / endpoint / deployment_name(model, version)


def deployment_name(model: str, version: str) -> str:
    """A local endpoint's deployment, as collected data names it: the version it serves."""
    return f"{model}-{version}"


@dataclass(frozen=True)
class ServerSpec:
    """What the server runs: the scoring script inside its code folder, the model folder, and
    the environment it runs in: `bin_dir` of an environment of its own (built from
    deployment.environment), or None for the CLI's own. `shim` is the folder holding the
    copy of the server's entry point that such an environment imports (see `server_shim`)."""

    code_root: Path
    entry_script: Path
    model_dir: Path
    workers: int
    port: int
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    bin_dir: Path | None = None
    shim: Path | None = None
    collection: Collection | None = None

    def command(self, detach: Path | None = None) -> list[str]:
        """The server's command line; with `detach`, it daemonizes and logs there."""
        isolated = self.bin_dir is not None
        return [
            str(self.bin_dir / "python") if self.bin_dir is not None else sys.executable,
            "-m",
            f"{SERVER_PACKAGE}._inference_server" if isolated else SERVER_MODULE,
            *(["--detach", str(detach)] if detach else []),
            "--entry_script",
            str(self.entry_script),
            "--model_dir",
            str(self.model_dir),
            "--port",
            str(self.port),
            "--worker_count",
            str(self.workers),
        ]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/score"

    def environment(self) -> dict[str, str]:
        environment = {
            **os.environ,
            "AML_APP_ROOT": str(self.code_root),  # the server puts it on sys.path, as in Azure
            "AZUREML_MODEL_DIR": str(self.model_dir),
            "PYTHONUNBUFFERED": "1",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "MLOPS_MAX_REQUEST_BYTES": str(self.max_request_bytes),  # read by _front_end
        }
        for name in ("MLOPS_COLLECT_DIR", "MLOPS_COLLECT_SOURCE", "MLOPS_COLLECT_SAMPLE_RATE"):
            environment.pop(name, None)  # collection is this spec's choice, never inherited
        if self.collection is not None:
            environment.update(self.collection.environment())
        if self.bin_dir is not None:
            # the environment's venv, as `activate` sets it; the CLI's venv must not leak in
            for name in ("PYTHONHOME", "CONDA_PREFIX", "__PYVENV_LAUNCHER__"):
                environment.pop(name, None)
            environment["VIRTUAL_ENV"] = str(self.bin_dir.parent)
            environment["PATH"] = f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
            assert self.shim is not None, "an isolated server needs its entry point's copy"
            environment["PYTHONPATH"] = str(self.shim)
        return environment


def server_shim(folder: Path) -> Path:
    """The folder to put on PYTHONPATH of a server in an environment without mlops: it holds
    `mlops_local_server`, a copy of the server's entry point and gunicorn settings."""
    from mlops.backends.local.shims import write_server

    return write_server(folder)


class LocalEndpoints:
    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / "endpoints"

    def get(self, name: str) -> Endpoint | None:
        """The recorded endpoint `name`; None when there is none (or its record is unreadable)."""
        try:
            return Endpoint(**json.loads((self.folder / f"{name}.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def list(self) -> list[Endpoint]:
        found = [self.get(p.stem) for p in sorted(self.folder.glob("*.json"))]
        return [e for e in found if e is not None]

    def status(self, endpoint: Endpoint) -> str:
        """healthy, unhealthy (running, not answering) or crashed (its process is gone)."""
        if not _ours(endpoint):
            return CRASHED
        return HEALTHY if _answers(endpoint.port) else UNHEALTHY

    @contextlib.contextmanager
    def lock(
        self,
        name: str,
        timeout: float = 600.0,
        progress: Callable[[str], None] = lambda message: None,
    ) -> Iterator[None]:
        """Hold endpoint `name` for one deploy or stop at a time, across processes.

        The lock is the operating system's (flock), so a deploy that is killed releases it.
        """
        from filelock import FileLock, Timeout

        self.folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.folder / f"{name}.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            progress(f"waiting for another deploy or stop of endpoint {name} to finish")
            try:
                lock.acquire(timeout=timeout)
            except Timeout:
                raise BackendError(
                    f"endpoint {name} stayed locked by another deploy for {timeout:.0f} s",
                    hint=f"see {self.folder / name} and `mlops endpoints list`; try again",
                ) from None
        try:
            yield
        finally:
            lock.release()

    def deploy(
        self,
        name: str,
        model: str,
        version: str,
        spec: Callable[[Path, int], ServerSpec],
        *,
        fetch_model: Callable[[Path], Path],
        port: int | None = None,
        timeout: float = 120.0,
        progress: Callable[[str], None] = lambda message: None,
        environment: str = "",
    ) -> Endpoint:
        """Start `model:version` as endpoint `name`; replace the old server once healthy.

        Call it holding `lock(name)`. Each deployment gets a folder of its own, so no other
        deploy ever removes the model a live server reads. On any failure or interruption
        the new server and its folder are removed and the previous endpoint keeps serving.
        """
        if port is not None:
            processes.ensure_port_free(port)
        folder = self.folder / name / f"{model}-{version}-{uuid.uuid4().hex[:12]}"
        pid: int | None = None
        try:
            progress(f"laying out {model}:{version} as Azure ML does")
            model_dir = folder / "azureml-models" / model / version
            fetch_model(model_dir)
            server = spec(model_dir, port if port is not None else processes.free_port())
            log = folder / "server.log"
            progress(f"starting the inference server on 127.0.0.1:{server.port}")
            pid = _launch(server, log)
            endpoint = Endpoint(
                name=name,
                model=model,
                version=version,
                pid=pid,
                port=server.port,
                log=str(log),
                folder=str(folder),
                started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                created=processes.started_at(pid),
                environment=environment,
                collecting=server.collection is not None,
            )
            progress("waiting for it to be healthy")
            self._wait_healthy(endpoint, timeout)
            previous = self.get(name)
            self._save(endpoint)
        except BaseException:
            if pid is not None:
                processes.stop_group(pid)
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if previous is not None and previous.folder != endpoint.folder:
            progress(f"stopping the previous server ({previous.model}:{previous.version})")
            if _ours(previous):
                processes.stop_group(previous.pid)
            shutil.rmtree(previous.folder, ignore_errors=True)  # its copy of the model
        return endpoint

    def stop(self, name: str) -> tuple[Endpoint, str] | None:
        """Stop the server of endpoint `name` and forget it; None when there was none.

        With the endpoint, says what was found: stopped, not running, or not running (pid
        reused) when the recorded pid now belongs to another process, which is left alone.
        """
        endpoint = self.get(name)
        if endpoint is None:
            return None
        if _ours(endpoint):
            processes.stop_group(endpoint.pid)
            outcome = STOPPED
        elif processes.started_at(endpoint.pid) is not None:
            outcome = PID_REUSED
        else:
            outcome = NOT_RUNNING
        (self.folder / f"{name}.json").unlink(missing_ok=True)
        shutil.rmtree(endpoint.folder, ignore_errors=True)
        return endpoint, outcome

    def _save(self, endpoint: Endpoint) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{endpoint.name}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(asdict(endpoint), indent=2))
        tmp.replace(self.folder / f"{endpoint.name}.json")

    def _wait_healthy(self, endpoint: Endpoint, timeout: float) -> None:
        """Wait until the server answers its health probe on its own port; raise otherwise."""
        deadline = time.monotonic() + timeout
        while not (_answers(endpoint.port) and processes.listens_on(endpoint.pid, endpoint.port)):
            exited = not processes.group_alive(endpoint.pid)
            if exited or time.monotonic() > deadline:
                why = "exited" if exited else f"did not answer in {timeout:.0f} s"
                raise BackendError(
                    f"the inference server for {endpoint.model}:{endpoint.version} {why};"
                    f" last lines of {endpoint.log}:\n{_tail(Path(endpoint.log))}",
                    hint="fix the scoring script or the model, then deploy again;"
                    " the previous endpoint (if any) is still serving",
                )
            time.sleep(0.05)


def _launch(server: ServerSpec, log: Path) -> int:
    """Start the server as a daemon logging to `log`; its pid (its own process group's id)."""
    launched = subprocess.run(
        server.command(detach=log),
        cwd=server.code_root,
        env=server.environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    if launched.returncode != 0 or not launched.stdout.strip().isdigit():
        raise BackendError(f"the inference server did not start: {launched.stderr.strip()}")
    return int(launched.stdout.strip())


def _ours(endpoint: Endpoint) -> bool:
    """Whether the endpoint's recorded pid is still the server it started."""
    return processes.is_same_process(endpoint.pid, endpoint.created, "._inference_server")


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
