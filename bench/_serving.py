"""Helpers the serving benchmarks share: the mlops CLI of this environment, ports, waiting."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def mlops(*args: str, cwd: Path) -> str:
    """Run `mlops ARGS` in `cwd`; its stdout, or exit naming the command that failed."""
    done = subprocess.run(
        [str(BIN / "mlops"), *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"mlops {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait(url: str, timeout: float = 120) -> None:
    """Until `url` answers at all; exit if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{url} never answered")
