"""An MLflow tracking server on 127.0.0.1 over the run's SQLite store, for isolated steps.

A step built into its own environment has its own MLflow (Azure's curated environments ship
`mlflow-skinny`, which has no SQL store, and another MLflow version would fail the store's
schema check), so it cannot open `sqlite:///.mlops/mlflow.db` itself. It talks HTTP to this
server instead, which runs MLflow's Flask app from the CLI's own environment in a child
process (its own process group), for the duration of one pipeline run. Artifacts are not
served: runs keep the store's `file://` artifact root, which the step writes directly.

Run as `python -m mlops.backends.local.tracking_server STORE_URI ARTIFACT_ROOT PORT PARENT_PID`:
the child exits by itself when its parent is gone (a SIGKILLed `mlops run` leaves no server).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from mlops.backends.local.processes import free_port, stop_group
from mlops.errors import BackendError

#: how long the server may take to answer /health (it imports MLflow: about 2.5 s here)
START_TIMEOUT = 120.0
#: how long it gets to stop after SIGTERM before SIGKILL
STOP_GRACE = 5.0


class TrackingServer:
    """A started server: `uri` is what isolated steps get as MLFLOW_TRACKING_URI.

    `start` returns at once; `wait_ready` blocks until it answers (so environments can be built
    meanwhile); `stop` stops its whole process group and may be called more than once.
    """

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log
        self.uri = f"http://127.0.0.1:{port}"

    @classmethod
    def start(cls, store_uri: str, artifact_root: str, log: Path) -> TrackingServer:
        """Start the server over `store_uri` (already created: `tracking.open_client` ran) on a
        free port; its output goes to `log`."""
        port = free_port()
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    __name__,
                    store_uri,
                    artifact_root,
                    str(port),
                    str(os.getpid()),
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=_server_environment(),
            )
        return cls(process, port, log)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until GET /health answers 200; raise BackendError (and stop it) otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = _tail(self.log)
                raise BackendError(
                    "the MLflow tracking server for isolated steps did not start"
                    + (f":\n{tail}" if tail else ""),
                    hint=f"its log is {self.log}; or run every step in the CLI's own"
                    " environment: `mlops run --env-mode current`",
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL after STOP_GRACE seconds."""
        if self.process.returncode is not None:
            return
        stop_group(self.process.pid, STOP_GRACE)
        self.process.wait()


def _server_environment() -> dict[str, str]:
    """The CLI's environment without the step-facing MLflow settings a caller may have set."""
    drop = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def _serve(store_uri: str, artifact_root: str, port: int, parent: int) -> None:
    """The child: MLflow's Flask app on a threaded WSGI server (starts faster than
    `mlflow server`, which spawns uvicorn in yet another process)."""
    os.environ["_MLFLOW_SERVER_FILE_STORE"] = store_uri
    os.environ["_MLFLOW_SERVER_REGISTRY_STORE"] = store_uri
    os.environ["_MLFLOW_SERVER_ARTIFACT_ROOT"] = artifact_root
    os.environ.pop("_MLFLOW_SERVER_SERVE_ARTIFACTS", None)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    from mlflow.server import app
    from werkzeug.serving import make_server

    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
