"""Shared fixtures: write a config into a temporary project and run the CLI in-process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops.cli import app

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def steps_in_the_current_environment() -> Iterator[None]:
    """Every step runs in the test venv (`mlops run --env-mode current`), subprocesses too:
    the reference project's curated environment is a 1 GB download. tests/environments opt
    back in to isolated mode with small packages."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_ENV_MODE", "current")
        yield


@pytest.fixture(autouse=True)
def console_as_in_a_pipeline_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the consoles a pipeline log gets (no terminal, no COLUMNS): the
    CLI makes them once per process, and pytest-xdist's workers export COLUMNS=80, so
    otherwise a test's output would depend on the worker it runs in and what ran before."""
    from mlops.cli import _output

    monkeypatch.delenv("COLUMNS", raising=False)
    _output.stdout.cache_clear()
    _output.stderr.cache_clear()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run `mlops ARGS` in-process, as the console script would."""
    result = CliRunner().invoke(app, list(args), env=env, prog_name="mlops")
    exception = None if isinstance(result.exception, SystemExit) else result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr, exception)


def trained_new_project(folder: Path) -> Path:
    """`mlops init` a project in `folder/demo` and run its pipeline once: version 1 of its
    model is registered (for tests of what comes after training: serving, packaging)."""
    root = folder / "demo"
    assert run_cli("init", str(root)).exit_code == 0
    completed = subprocess.run(
        [sys.executable, "-m", "mlops", "run"], cwd=root, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return root


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    return run_cli


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Write `text` (dedented) as mlops.yaml in a fresh project folder and cd into it."""
    monkeypatch.chdir(tmp_path)

    def write(text: str) -> Path:
        path = tmp_path / "mlops.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@contextlib.contextmanager
def mlops_in_background(*args: str, cwd: Path, timeout: float = 90) -> Iterator[int]:
    """Run `mlops ARGS --port P` as its own process group until GET / answers 200; yield P.

    The whole group is stopped afterwards, whatever the test did.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mlops", *args, "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    if page.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, f"mlops {args[0]} exited"
            assert time.monotonic() < deadline, f"mlops {args[0]} never answered"
            time.sleep(0.3)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
