"""How a local run ends when it is stopped: by a signal, by a timeout, or by being killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import run_cli


def slow_pipeline(root: Path, started: Path, marker: str, *, step_extra: str = "", body="") -> str:
    """A one-step pipeline whose step says it started, then sleeps a minute (tagged `marker`)."""
    command = body or f"python -c 'import time; time.sleep(60)' {marker}"
    (root / "slow.yml").write_text(
        "type: pipeline\n"
        "jobs:\n"
        "  slow:\n"
        "    type: command\n"
        f"    command: touch {started} && {command}\n"
        "    environment: azureml:x@latest\n" + step_extra
    )
    return "slow.yml"


def start_run(root: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlops", "run", *args],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # as from a terminal: background jobs of a shell without job control ignore SIGINT
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for(path: Path, run: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline and run.poll() is None, "the step never started"
        time.sleep(0.1)


def survivors(marker: str) -> list[Path]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes().decode(errors="ignore"):
                found.append(cmdline)
        except OSError:  # the process ended while we looked
            pass
    return found


def runs(root: Path) -> list[dict]:
    os.chdir(root)
    result = run_cli("runs", "list", "-o", "json")
    assert result.exit_code == 0, result.stderr
    return result.json()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_running_steps_records_the_run_killed_and_exits_128_plus_it(
    pipeline_project, tmp_path, signum, code
):
    root = pipeline_project("failing")
    marker, started = uuid.uuid4().hex, tmp_path / "started"
    run = start_run(root, slow_pipeline(root, started, marker))
    wait_for(started, run)
    run.send_signal(signum)
    assert run.wait(timeout=30) == code
    assert survivors(marker) == []
    [record] = runs(root)
    assert record["status"] == "killed"


def test_a_step_that_ignores_sigterm_is_killed_after_the_grace_period(pipeline_project, tmp_path):
    root = pipeline_project("failing")
    marker, started = uuid.uuid4().hex, tmp_path / "started"
    stubborn = f"trap '' TERM; python -c 'import time; time.sleep(60)' {marker}"
    run = start_run(root, slow_pipeline(root, started, marker, body=stubborn))
    wait_for(started, run)
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=40) == 143  # SIGKILL follows SIGTERM after 10 s
    assert survivors(marker) == []


def test_limits_timeout_stops_the_step_and_reports_it_timed_out(pipeline_project, tmp_path):
    root = pipeline_project("failing")
    marker = uuid.uuid4().hex
    pipeline = slow_pipeline(
        root, tmp_path / "started", marker, step_extra="    limits:\n      timeout: 1\n"
    )
    result = run_cli("run", pipeline, "-o", "json")
    assert result.exit_code == 1
    [step] = result.json()["steps"]
    assert step["status"] == "failed"
    assert step["reason"].startswith("timed out: stopped after its limits.timeout of 1s")
    assert survivors(marker) == []


def test_run_timeout_stops_the_running_steps_and_fails_the_run(pipeline_project, tmp_path):
    root = pipeline_project("failing")
    marker = uuid.uuid4().hex
    pipeline = slow_pipeline(root, tmp_path / "started", marker)
    result = run_cli("run", pipeline, "--timeout", "0.02", "-o", "json")  # 1.2 s
    assert result.exit_code == 1
    summary = result.json()
    assert summary["timed_out"] is True and summary["ok"] is False
    assert summary["steps"][0]["status"] == "canceled"
    assert "timeout" in summary["steps"][0]["reason"]
    assert survivors(marker) == []
    assert runs(root)[0]["status"] == "failed"


def test_a_run_whose_process_was_killed_is_shown_failed_not_running(pipeline_project, tmp_path):
    root = pipeline_project("failing")
    marker, started = uuid.uuid4().hex, tmp_path / "started"
    run = start_run(root, slow_pipeline(root, started, marker))
    wait_for(started, run)
    run.kill()  # SIGKILL: nothing of mlops runs to record the end
    run.wait(timeout=10)
    for cmdline in survivors(marker):  # the orphaned step: not what this test is about
        os.killpg(int(cmdline.parent.name), signal.SIGKILL)
    [record] = runs(root)
    assert record["status"] == "failed"
    assert record["tags"]["mlops.ended"] == "its process was gone"
    os.chdir(root)
    shown = run_cli("runs", "show", record["run_id"], "-o", "json").json()
    assert [s["status"] for s in shown["steps"]] == ["failed"]
