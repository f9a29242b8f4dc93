"""Local online endpoints: azureml-inference-server-http processes, with state in `.mlops/`.

A deployment lays out the model as Azure ML does (`AZUREML_MODEL_DIR/NAME/VERSION/model`),
starts the server in the background on 127.0.0.1 and records pid, port, model and log in
`.mlops/endpoints/NAME.json`. A new version starts beside the old one, which is stopped only
once the new one is healthy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlops.errors import BackendError

HEALTHY, UNHEALTHY, CRASHED = "healthy", "unhealthy", "crashed"


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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/score"

    @property
    def swagger(self) -> str:
        return f"http://127.0.0.1:{self.port}/swagger.json"

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "url": self.url, "swagger": self.swagger}


@dataclass(frozen=True)
class ServerSpec:
    """What the server runs: the scoring script inside its code folder, the model folder."""

    code_root: Path
    entry_script: Path
    model_dir: Path
    workers: int
    port: int

    def command(self, detach: Path | None = None) -> list[str]:
        """The server's command line; with `detach`, it daemonizes and logs there."""
        return [
            sys.executable,
            "-m",
            "mlops.backends.local._inference_server",
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

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "AML_APP_ROOT": str(self.code_root),  # the server puts it on sys.path, as in Azure
            "AZUREML_MODEL_DIR": str(self.model_dir),
            "PYTHONUNBUFFERED": "1",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }


class LocalEndpoints:
    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / "endpoints"

    def get(self, name: str) -> Endpoint | None:
        try:
            return Endpoint(**json.loads((self.folder / f"{name}.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def list(self) -> list[Endpoint]:
        found = [self.get(p.stem) for p in sorted(self.folder.glob("*.json"))]
        return [e for e in found if e is not None]

    def status(self, endpoint: Endpoint) -> str:
        """healthy, unhealthy (running, not answering) or crashed (its process is gone)."""
        if not _group_alive(endpoint.pid):
            return CRASHED
        return HEALTHY if _answers(endpoint.port) else UNHEALTHY

    def deploy(
        self,
        name: str,
        model: str,
        version: str,
        spec: Callable[[Path, int], ServerSpec],
        *,
        fetch_model: Callable[[Path], Path],
        timeout: float = 120.0,
        progress: Callable[[str], None] = lambda message: None,
    ) -> Endpoint:
        """Start `model:version` as endpoint `name`; replace the old server once healthy."""
        folder = self.folder / name / f"{model}-{version}-{int(time.time())}"
        progress(f"laying out {model}:{version} as Azure ML does")
        model_dir = folder / "azureml-models" / model / version
        fetch_model(model_dir)
        server = spec(model_dir, _free_port())
        log = folder / "server.log"
        progress(f"starting the inference server on 127.0.0.1:{server.port}")
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
        pid = int(launched.stdout.strip())
        endpoint = Endpoint(
            name=name,
            model=model,
            version=version,
            pid=pid,
            port=server.port,
            log=str(log),
            folder=str(folder),
            started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
        progress("waiting for it to be healthy")
        self._wait_healthy(endpoint, timeout)
        previous = self.get(name)
        self._save(endpoint)
        if previous is not None and previous.pid != endpoint.pid:
            progress(f"stopping the previous server ({previous.model}:{previous.version})")
            _stop(previous.pid)
            shutil.rmtree(previous.folder, ignore_errors=True)  # its copy of the model
        return endpoint

    def stop(self, name: str) -> Endpoint | None:
        """Stop the server of endpoint `name` and forget it; None when there was none."""
        endpoint = self.get(name)
        if endpoint is None:
            return None
        _stop(endpoint.pid)
        (self.folder / f"{name}.json").unlink(missing_ok=True)
        shutil.rmtree(endpoint.folder, ignore_errors=True)
        return endpoint

    def _save(self, endpoint: Endpoint) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{endpoint.name}.tmp"
        tmp.write_text(json.dumps(asdict(endpoint), indent=2))
        tmp.replace(self.folder / f"{endpoint.name}.json")

    def _wait_healthy(self, endpoint: Endpoint, timeout: float) -> None:
        """Wait for the health probe; on failure stop the server and show its log's end."""
        deadline = time.monotonic() + timeout
        while not _answers(endpoint.port):
            exited = not _group_alive(endpoint.pid)
            if exited or time.monotonic() > deadline:
                _stop(endpoint.pid)
                why = "exited" if exited else f"did not answer in {timeout:.0f} s"
                raise BackendError(
                    f"the inference server for {endpoint.model}:{endpoint.version} {why};"
                    f" last lines of {endpoint.log}:\n{_tail(Path(endpoint.log))}",
                    hint="fix the scoring script or the model, then deploy again;"
                    " the previous endpoint (if any) is still serving",
                )
            time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _stop(pid: int, grace: float = 10.0) -> None:
    """SIGTERM the server's process group (gunicorn and its workers), SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _group_alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + grace
        while _group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    """Any process of the group still running; zombies (exited, not yet reaped) do not count."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
