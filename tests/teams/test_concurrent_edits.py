"""`mlops team add|remove` run at the same time on one platform file (two platform engineers,
two CI jobs): each edit reads, validates and replaces the file under a lock, so none is lost."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from mlops.config import load_config

RISK_DS = "33333333-3333-3333-3333-333333333333"


@pytest.fixture
def platform(workspace: Path) -> Path:
    return workspace / "platform" / "mlops.yaml"


def start(platform: Path, *args: str) -> subprocess.Popen[str]:
    """`mlops team ARGS` in its own process, in the platform repository."""
    return subprocess.Popen(
        [sys.executable, "-m", "mlops", "team", *args],
        cwd=platform.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> None:
    _, stderr = process.communicate(timeout=180)
    assert process.returncode == 0, stderr


def held_while_both_start(platform: Path, first: tuple[str, ...], second: tuple[str, ...]) -> None:
    """Start two commands while holding the lock they take (in the platform's local state
    folder): neither may touch the file until it is released; then both must succeed."""
    began = time.monotonic()
    finish(start(platform, "add", "ops", "--repository", "ops-model"))
    one_edit = time.monotonic() - began  # a whole command, start-up included, on this machine
    before = platform.read_text()

    with FileLock(platform.parent / ".mlops" / "mlops.yaml.lock"):
        processes = [start(platform, *first), start(platform, *second)]
        time.sleep(max(3.0, 2 * one_edit))
        assert [p.poll() for p in processes] == [None, None]  # both waiting for the lock
        assert platform.read_text() == before
    for process in processes:
        finish(process)


def test_two_adds_at_once_both_land(platform: Path) -> None:
    held_while_both_start(
        platform,
        ("add", "risk", "--data-scientists", f"sg-risk-ds={RISK_DS}"),
        ("add", "churn", "--repository", "churn-model"),
    )

    teams = load_config(platform).config.teams
    assert sorted(teams) == ["churn", "fraud", "ops", "risk"]
    assert teams["churn"].repositories == ["churn-model"]
    assert [g.name for g in teams["risk"].data_scientists] == ["sg-risk-ds"]


def test_an_add_and_a_remove_at_once_both_land(platform: Path) -> None:
    held_while_both_start(
        platform, ("add", "risk", "--repository", "credit-risk"), ("remove", "ops")
    )

    assert sorted(load_config(platform).config.teams) == ["fraud", "risk"]
