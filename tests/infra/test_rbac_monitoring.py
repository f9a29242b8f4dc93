"""With production data collected, CT's daily check (the training identity) reads each
serving environment's monitor runs, and nothing more there; without it, not even that."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.infra.conftest import copy_config

JOBS_READ = "Microsoft.MachineLearningServices/workspaces/jobs/read"
JOBS_WRITE = "Microsoft.MachineLearningServices/workspaces/jobs/write"


@pytest.mark.parametrize("collection", [True, False])
def test_the_training_identity_reads_the_serving_workspaces_jobs_only_when_they_are_monitored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collection: bool
) -> None:
    config = copy_config("vnet", tmp_path)
    with config.open("a", encoding="utf-8") as out:
        out.write(f"\nmonitoring:\n  collection: {str(collection).lower()}\n")
    monkeypatch.chdir(tmp_path)

    for env in ("test", "prod"):
        read = run_cli("rbac", "check", "training", JOBS_READ, "-e", env)
        write = run_cli("rbac", "check", "training", JOBS_WRITE, "-e", env)
        assert read.exit_code == (0 if collection else 3), read.stdout + read.stderr
        assert write.exit_code == 3, write.stdout
