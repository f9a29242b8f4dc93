"""Start azureml-inference-server-http as its `azmlinfsrv` command does, bound to loopback.

The server's command line always binds every interface (0.0.0.0); a local endpoint must only
answer this machine, so this entry point sets the host its own `run()` passes to gunicorn and
hands over every argument unchanged: `python -m mlops.backends.local._inference_server ARGS`.
"""

from __future__ import annotations

import os

from azureml_inference_server_http import amlserver


def main() -> None:
    amlserver.DEFAULT_HOST = os.environ.get("MLOPS_SERVER_HOST", "127.0.0.1")
    amlserver.run()


if __name__ == "__main__":
    main()
