"""`mlops serve` and `mlops ui` own their process trees: a busy port is exit 1 naming it, and
stopping them by any signal leaves no gunicorn, uvicorn or huey serving behind."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import run_cli
from tests.endpoint.conftest import alive, free_port, mlops_process, signal_name, wait_until_answers

# each signal on at least one of the two commands (they share one foreground runner:
# mlops.backends.local.processes.run_foreground); every case costs a server start
SERVE_SIGNALS = [signal.SIGTERM, signal.SIGHUP]
UI_SIGNALS = [signal.SIGINT]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something already listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def new_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "demo"
    assert run_cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    return root


def _stop_by_signal_and_list_survivors(process, signum: int) -> list[psutil.Process]:
    family = psutil.Process(process.pid).children(recursive=True)
    assert family, "it started no server process"
    process.send_signal(signum)
    process.wait(timeout=60)
    _, still = psutil.wait_procs(family, timeout=20)
    return alive(still)


@pytest.mark.parametrize("signum", SERVE_SIGNALS, ids=signal_name)
def test_killing_mlops_serve_by_its_pid_stops_the_whole_server(project, signum):
    port = free_port()
    with mlops_process("serve", "--port", str(port), cwd=project) as serve:
        wait_until_answers(serve, port)
        survivors = _stop_by_signal_and_list_survivors(serve, signum)
    assert survivors == [], [p.cmdline()[:4] for p in survivors]
    assert serve.returncode == 128 + signum


@pytest.mark.parametrize("signum", UI_SIGNALS, ids=signal_name)
def test_killing_mlops_ui_by_its_pid_stops_uvicorn_gunicorn_and_huey(new_project, signum):
    port = free_port()
    with mlops_process("ui", "--port", str(port), cwd=new_project) as ui:
        wait_until_answers(ui, port)
        survivors = _stop_by_signal_and_list_survivors(ui, signum)
    assert survivors == [], [p.cmdline()[:4] for p in survivors]


def test_serve_on_a_busy_port_exits_1_naming_the_port(project, busy_port):
    result = run_cli("serve", "--port", str(busy_port))
    assert result.exit_code == 1
    assert f"port {busy_port}" in result.stderr


def test_ui_on_a_busy_port_exits_1_naming_the_port(new_project, busy_port):
    started = time.monotonic()
    result = run_cli("ui", "--port", str(busy_port))
    assert result.exit_code == 1, result.stdout + result.stderr
    assert f"port {busy_port}" in result.stderr
    assert time.monotonic() - started < 60


def test_deploy_on_a_busy_explicit_port_exits_1_naming_the_port(project, busy_port):
    result = run_cli("deploy", "--env", "local", "--port", str(busy_port))
    assert result.exit_code == 1
    assert f"port {busy_port}" in result.stderr
    assert run_cli("endpoints", "list", "-o", "json").json() == []
