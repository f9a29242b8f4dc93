"""An MLflow tracking server on 127.0.0.1 over the run's SQLite store, for isolated steps.

A step built into its own environment has its own MLflow (Azure's curated environments ship
`mlflow-skinny`, which has no SQL store, and another MLflow version would fail the store's
schema check), so it cannot open `sqlite:///.mlops/mlflow.db` itself. It talks HTTP to this
server instead, which runs MLflow's Flask app from the CLI's own environment in a child
process (its own process group), for the duration of one pipeline run. Artifacts are not
served: runs keep the store's `file://` artifact root, which the step writes directly.

The server creates or migrates the store itself (under the store's lock, as
`tracking.open_client` does) before it answers, so a run on a fresh project can start it first
thing and plan meanwhile: the MLflow import (about 3 s) and the store's creation (its alembic
migrations) happen once, in the server, beside the planning, instead of once in the runner and
once more in the server, one after the other.

Its listening socket is bound by the parent and inherited, so the URI is known, and answered,
from the start: a step that asks before the app is up waits in the socket's backlog instead
of waiting for the server before it starts (it spends the first seconds importing anyway).

Run as `python -m mlops.backends.local.tracking_server STORE_URI ARTIFACT_ROOT FD PARENT_PID`:
the child exits by itself when its parent is gone (a SIGKILLed `mlops run` leaves no server),
but never while it creates or migrates the store (a half-migrated store fails every later run).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import NoReturn

from mlops.backends.local.processes import stop_group
from mlops.errors import BackendError

#: how long the server may take to make the store and answer /health (it imports MLflow:
#: about 3 s here, and a fresh store's migrations take about as long)
START_TIMEOUT = 120.0
#: how long it gets to stop after SIGTERM before SIGKILL (once past making the store)
STOP_GRACE = 5.0


class TrackingServer:
    """A started server: `uri` is what isolated steps get as MLFLOW_TRACKING_URI.

    `start` returns at once, listening already; `wait_store` blocks until it has made the
    store, `wait_ready` until it answers; `stop` stops its whole process group and may be
    called more than once.
    """

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log
        self.uri = f"http://127.0.0.1:{port}"
        self.ready = False

    @classmethod
    def start(cls, store_uri: str, artifact_root: str, log: Path) -> TrackingServer:
        """Start the server over `store_uri` (made or migrated by the server first, when
        needed) on a free port, listening already; its output goes to `log`."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with socket.socket() as listener, log.open("wb") as sink:
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    __name__,
                    store_uri,
                    artifact_root,
                    str(listener.fileno()),
                    str(os.getpid()),
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=_server_environment(),
                pass_fds=(listener.fileno(),),
            )
            port = listener.getsockname()[1]
        return cls(process, port, log)  # the child holds the socket now: ours is closed

    def wait_store(self, state_dir: Path, timeout: float = START_TIMEOUT) -> None:
        """Block until the store under `state_dir` is made (the server's first task); raise
        BackendError (and stop it) if it exits first."""
        from mlops.backends.local._sqlstore import Store

        deadline = time.monotonic() + timeout
        while (store := Store.open(state_dir)) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._failed()
            time.sleep(0.05)
        store.close()
        self.ready = True  # past making the store: it stops at once now

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until GET /health answers 200; raise BackendError (and stop it) otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        self.ready = True
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._failed()
            time.sleep(0.05)

    def _failed(self) -> NoReturn:
        self.stop()
        tail = _tail(self.log)
        raise BackendError(
            "the MLflow tracking server for isolated steps did not start"
            + (f":\n{tail}" if tail else ""),
            hint=f"its log is {self.log}; or run every step in the CLI's own"
            " environment: `mlops run --env-mode current`",
        )

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL after STOP_GRACE seconds (after
        START_TIMEOUT while it may still be creating the store: it exits once that is done)."""
        if self.process.returncode is not None:
            return
        stop_group(self.process.pid, STOP_GRACE if self.ready else START_TIMEOUT)
        self.process.wait()


class LazyTrackingServer:
    """The tracking server of one run: started on first use (a run whose steps are all reused
    starts none), or earlier with `start` (a fresh store: it is made meanwhile). Calling it
    starts it if need be and gives its URI; `stop` stops it, however the run ends, and may be
    called more than once."""

    def __init__(self, state_dir: Path, log: Path) -> None:
        from mlops.backends.local.tracking import artifact_root, store_uri

        self._state = state_dir
        self._store, self._artifacts = store_uri(state_dir), artifact_root(state_dir)
        self.log = log
        self._server: TrackingServer | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self.asked = False  # someone waited for it: its log may explain a failure

    @property
    def started(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Start the server now, without waiting for it."""
        with self._lock:
            self._start()

    def _start(self) -> TrackingServer:
        if self._stopped:
            raise BackendError("the run is over: its tracking server was stopped")
        if self._server is None:
            self._server = TrackingServer.start(self._store, self._artifacts, self.log)
        return self._server

    def __call__(self) -> str:
        """The server's URI, started if need be; not waiting for it to answer (a step's first
        request waits in the socket's backlog), only checking it has not exited."""
        with self._lock:
            self.asked = True
            server = self._start()
            if server.process.poll() is not None:
                self._server = None
                server.wait_ready()  # raises, with the tail of its log
            return server.uri

    def wait_store(self) -> None:
        """Start the server if need be and wait until it has made the store."""
        with self._lock:
            self.asked = True
            server = self._start()
        server.wait_store(self._state)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._server is not None:
                self._server.stop()


def _server_environment() -> dict[str, str]:
    """The CLI's environment without the step-facing MLflow settings a caller may have set."""
    drop = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def _serve(store_uri: str, artifact_root: str, listener: int, parent: int) -> None:
    """The child: the store created or migrated, then MLflow's Flask app on a threaded WSGI
    server (starts faster than `mlflow server`, which spawns uvicorn in yet another process)."""
    os.environ["_MLFLOW_SERVER_FILE_STORE"] = store_uri
    os.environ["_MLFLOW_SERVER_REGISTRY_STORE"] = store_uri
    os.environ["_MLFLOW_SERVER_ARTIFACT_ROOT"] = artifact_root
    os.environ.pop("_MLFLOW_SERVER_SERVE_ARTIFACTS", None)
    making = threading.Event()  # set while the store is created or migrated: no exit then
    making.set()
    stopping = threading.Event()
    threading.Thread(target=_exit_with_parent, args=(parent, making), daemon=True).start()

    def on_sigterm(*_: object) -> None:
        if not making.is_set():
            os._exit(0)
        stopping.set()  # exit once the store is made

    signal.signal(signal.SIGTERM, on_sigterm)
    from mlops.backends.local._sqlstore import Store
    from mlops.backends.local.tracking import open_client

    state_dir = Path(store_uri.removeprefix("sqlite:///")).parent
    store = Store.open(state_dir)
    if store is None:  # a fresh store, or another MLflow's: make it ours
        open_client(state_dir)
    else:
        store.close()
    making.clear()
    if stopping.is_set():
        os._exit(0)
    from mlflow.server import app
    from werkzeug.serving import make_server

    _open_stores()
    make_server("127.0.0.1", 0, app, threaded=True, fd=listener).serve_forever()


def _open_stores() -> None:
    """Open the app's stores before answering /health rather than on a step's first request
    (the schema check, the engine); only a head start: they open on first use otherwise."""
    try:
        from mlflow.server import handlers

        handlers._get_tracking_store()
        handlers._get_model_registry_store()
    except Exception:  # a private API: without it the stores open on first use
        return


def _exit_with_parent(parent: int, making: threading.Event) -> None:
    while os.getppid() == parent or making.is_set():
        time.sleep(0.2)
    os._exit(0)


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
