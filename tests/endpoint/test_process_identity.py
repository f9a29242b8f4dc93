"""A recorded pid is signalled only while it is still the server mlops started."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psutil
import pytest

from tests.conftest import run_cli


@pytest.fixture
def new_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "demo"
    assert run_cli("init", str(root)).exit_code == 0
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def stranger():
    """An unrelated live process, standing for whatever got the server's pid after it died."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def _record(project: Path, pid: int, **fields: object) -> Path:
    folder = project / ".mlops" / "endpoints"
    model_folder = folder / "demo-online" / "demo-1-0123456789ab"
    model_folder.mkdir(parents=True)
    state = {
        "name": "demo-online",
        "model": "demo",
        "version": "1",
        "pid": pid,
        "port": 1,
        "log": str(model_folder / "server.log"),
        "folder": str(model_folder),
        "started": "2026-01-01 00:00:00 UTC",
        **fields,
    }
    (folder / "demo-online.json").write_text(json.dumps(state))
    return model_folder


def test_deploy_stop_leaves_an_unrelated_process_with_a_reused_pid_alone(new_project, stranger):
    started = psutil.Process(stranger.pid).create_time()
    _record(new_project, stranger.pid, created=started - 3600)  # our server started earlier
    result = run_cli("deploy", "--env", "local", "--stop", "-o", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json()["status"] == "not running (pid reused)"
    assert stranger.poll() is None  # not signalled
    assert run_cli("endpoints", "list", "-o", "json").json() == []  # the record is gone


def test_a_record_without_start_time_is_checked_by_command_line(new_project, stranger):
    _record(new_project, stranger.pid)  # written by an older mlops: no "created"
    result = run_cli("deploy", "--env", "local", "--stop")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "not running (pid reused)" in result.stderr
    assert stranger.poll() is None


def test_a_reused_pid_is_reported_crashed_not_healthy(new_project, stranger):
    started = psutil.Process(stranger.pid).create_time()
    _record(new_project, stranger.pid, created=started - 3600)
    (listed,) = run_cli("endpoints", "list", "-o", "json").json()
    assert listed["status"] == "crashed"


def test_stopping_an_endpoint_whose_server_is_gone_says_not_running(new_project):
    gone = subprocess.Popen(["true"])
    gone.wait()
    folder = _record(new_project, gone.pid, created=1.0)
    result = run_cli("deploy", "--env", "local", "--stop", "-o", "json")
    assert result.json()["status"] == "not running"
    assert not folder.exists()
