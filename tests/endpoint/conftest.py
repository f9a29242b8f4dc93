"""Fixtures for the local endpoint under faults: one trained project, real servers, clean-up."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import run_cli, trained_new_project


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project with demo:1 registered, trained once for the whole package."""
    return trained_new_project(tmp_path_factory.mktemp("faults"))


@pytest.fixture
def project(trained_project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The trained project as the working folder; its local endpoint is stopped afterwards."""
    monkeypatch.chdir(trained_project)
    yield trained_project
    run_cli("deploy", "--env", "local", "--stop")


def deploy(*args: str) -> dict:
    result = run_cli("deploy", "--env", "local", *args, "-o", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.json()


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def good_request() -> bytes:
    from diagnosis.schema import FEATURES

    return json.dumps({"data": [dict.fromkeys(FEATURES, 1.0)]}).encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def mlops_process(*args: str, cwd: Path) -> Iterator[subprocess.Popen]:
    """`mlops ARGS` as a child process; it and anything it left behind are killed afterwards.

    Its output goes to a file (`process.output`): a pipe nobody reads would fill and stall it.
    """
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops", *args], cwd=cwd, stdout=output, stderr=output
        )
        process.output = output  # type: ignore[attr-defined]
        seen: dict[int, psutil.Process] = {}
        try:
            yield process
        finally:
            with contextlib.suppress(psutil.NoSuchProcess):
                for child in psutil.Process(process.pid).children(recursive=True):
                    seen[child.pid] = child
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            for child in seen.values():
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
            process.wait(timeout=30)


def wait_until_answers(process: subprocess.Popen, port: int, timeout: float = 120) -> None:
    """Wait for GET / on `port` to answer 200 while `process` runs."""
    deadline = time.monotonic() + timeout
    while not healthy(port):
        if process.poll() is not None:
            process.output.seek(0)
            raise AssertionError(f"exited with {process.returncode}: {process.output.read()!r}")
        assert time.monotonic() < deadline, "never answered"
        time.sleep(0.3)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running (zombies, dead but not reaped, do not count)."""
    running = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
    return running
