"""The worker processes of the parallel driver, both sides of their socket: the driver starts
(`start_worker`) and stops (`stop_worker`) them; `worker_main` is a worker itself, which imports
the entry script, calls its init(), run() per mini-batch and shutdown(). Kept apart from the
scheduler in `parallel.py`, which only decides what each worker runs next.

A worker is `python -m <this package>.parallel --worker FD` (the name from `__package__`, so as
`mlops_local_drivers` in a step's environment and as `mlops.backends.local.drivers` in tests);
FD is its end of a socket pair carrying `multiprocessing.connection` messages:

- driver to worker: `("init", script, program arguments, logging level, want rows)` first,
  then `("run", index, items)` per mini-batch, and `("stop",)` to run shutdown() and exit;
- worker to driver: `("ready",)` or `("init-failed", traceback)` after init(), then per
  mini-batch `("done", index, items returned, rows as text or None)` or
  `("failed", index, summary, traceback)`.

Standard library only at module level, Python 3.8 syntax outside annotations: see the package
docstring.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

# --- the driver's side -----------------------------------------------------------------------


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    ready: bool = False
    #: (mini-batch index, started, deadline) while run() works
    busy: tuple[int, float, float] | None = None


def _worker_command() -> list[str]:
    """How to start the driver module again, by its name in whichever package this is."""
    return [sys.executable, "-m", f"{__package__}.parallel"]


def start_worker(init: tuple[Any, ...]) -> Worker:
    """A worker process on one end of a socket pair; `init` is the first message it gets."""
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            [*_worker_command(), "--worker", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )
    finally:
        theirs.close()
    worker = Worker(process, Connection(ours.detach()))
    worker.conn.send(init)
    return worker


def stop_worker(worker: Worker, grace: float = 0.0) -> None:
    """Ask an idle worker to run shutdown() and exit (grace > 0), or kill it now (one still in
    init() or run(), or grace 0); always reap it."""
    idle = worker.ready and worker.busy is None
    if grace > 0 and idle and worker.process.poll() is None:
        try:
            worker.conn.send(("stop",))
            worker.process.wait(grace)
        except (OSError, subprocess.TimeoutExpired):
            pass
    if worker.process.poll() is None:
        worker.process.kill()
        worker.process.wait()
    worker.conn.close()


# --- the worker process ----------------------------------------------------------------------


def worker_main(fd: int) -> int:
    """One worker: init() once, run() per mini-batch message, shutdown() on `stop`."""
    # Ctrl-C reaches the whole process group: the driver stops the workers itself
    signal.signal(signal.SIGINT, lambda *_: None)
    parent = os.getppid()

    def orphaned() -> None:  # the driver was killed outright: do not outlive it
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    conn = Connection(fd)
    _, script, program, level, want_text = conn.recv()
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sys.argv = [script, *program]
    sys.path.insert(0, os.path.dirname(script))
    try:
        module = _import_script(script)
        for required in ("init", "run"):
            if not callable(getattr(module, required, None)):
                raise AttributeError(f"the entry script defines no {required}() function")
        module.init()
    except BaseException:
        conn.send(("init-failed", traceback.format_exc()))
        return 1
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return 0
        if message[0] == "stop":
            shutdown = getattr(module, "shutdown", None)
            if callable(shutdown):
                try:
                    shutdown()
                except Exception:
                    logging.getLogger("parallel").exception("shutdown() failed")
            return 0
        _, index, items = message
        try:
            result = module.run(items)
            returned, text = _measure(result, want_text)
        except (Exception, SystemExit) as error:
            summary = f"{type(error).__name__}: {error}".strip()
            conn.send(("failed", index, summary, traceback.format_exc()))
        else:
            conn.send(("done", index, returned, text))


def _import_script(script: str) -> Any:
    import importlib.util

    name = os.path.splitext(os.path.basename(script))[0]
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pickling and dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


def _measure(result: Any, want_text: bool) -> tuple[int, str | None]:
    """(items returned, their rows as text): D:how-to-use-parallel-job-in-pipeline says run()
    returns a DataFrame, a list or a tuple."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(result, pandas.DataFrame):
        text = result.to_csv(sep=" ", header=False, index=False) if want_text else None
        return len(result), text
    if isinstance(result, (list, tuple)):  # a tuple of types: Python 3.8 environments
        return len(result), "".join(f"{item}\n" for item in result) if want_text else None
    raise TypeError(f"run() returned {type(result).__name__}: expected a list, tuple or DataFrame")
