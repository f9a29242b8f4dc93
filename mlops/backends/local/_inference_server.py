"""Start azureml-inference-server-http as its `azmlinfsrv` command does, bound to loopback.

The server's command line always binds every interface (0.0.0.0); a local endpoint must only
answer this machine, so this entry point sets the host its own `run()` passes to gunicorn and
hands over every other argument unchanged. It also points gunicorn at the settings module
`_front_end` (threaded workers, bounded request bodies: what Azure's front end does), through
gunicorn's own GUNICORN_CMD_ARGS, which the server's fixed command line leaves open:

    python -m mlops.backends.local._inference_server [--detach LOG] AZMLINFSRV_ARGS...

With MLOPS_COLLECT_DIR set (monitoring.collection on), it first starts the data collector
agent of `_front_end` beside the server, as Azure ML runs its own beside a deployment that
collects data, and stops it when the server exits.

It imports nothing from mlops (nor does `_front_end`), so a copy of both runs in an
environment that has only the server and the model's libraries.

With `--detach LOG` it becomes a daemon (own session, output to LOG), prints the server's
pid and returns at once, so the caller neither waits for nor reaps the server.
"""

from __future__ import annotations

import os
import sys

# the settings module beside this one: `mlops.backends.local` in the CLI's environment, the
# copy `serving.server_shim` writes for an endpoint that runs in an environment of its own
FRONT_END = f"{__package__ or 'mlops.backends.local'}._front_end"


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--detach"]:
        log, args = args[1], args[2:]
        _detach(log)
    sys.argv = [sys.argv[0], *args]
    from azureml_inference_server_http import amlserver

    amlserver.DEFAULT_HOST = os.environ.get("MLOPS_SERVER_HOST", "127.0.0.1")
    # settings given in GUNICORN_CMD_ARGS by the caller come after ours, and so win
    extra = os.environ.get("GUNICORN_CMD_ARGS", "")
    os.environ["GUNICORN_CMD_ARGS"] = f"--config python:{FRONT_END} {extra}".strip()
    agent = _front_end().start_collector_agent(os.environ)
    try:
        amlserver.run()
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(10)


def _front_end():
    """The settings module beside this one, which also holds the data collector agent."""
    import importlib

    return importlib.import_module(FRONT_END)


def _detach(log: str) -> None:
    pid = os.fork()
    if pid:  # the caller's child: report the server's pid and leave
        print(pid, flush=True)
        os._exit(0)
    os.setsid()  # its own session and process group: stopped as a group, reaped by init
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)


if __name__ == "__main__":
    main()
