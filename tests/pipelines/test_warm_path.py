"""Once MLflow has made the store, a run's bookkeeping goes to its tables without importing
MLflow, and MLflow reads back exactly what it would have written itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops.backends.local._sqlstore import MARKER, Store
from mlops.backends.local.tracking import Tracking
from mlops.config import load_config
from mlops.services import run

PIPELINE = """\
type: pipeline
experiment_name: warm
inputs:
  alpha: 0.5
jobs:
  fit:
    type: command
    inputs:
      alpha: ${{parent.inputs.alpha}}
    command: >-
      python -c "import mlflow, sys; mlflow.log_metric('loss', 0.25)" ${{inputs.alpha}}
    environment: azureml:AzureML-sklearn-1.5@latest
    outputs:
      out:
        type: uri_folder
"""

# a warm `mlops run`, in a fresh interpreter: which heavy modules did it import?
PROBE = """\
import sys
from mlops.cli import main
try:
    main()
except SystemExit as exit:
    code = exit.code
print("IMPORTED", sorted(m for m in ("mlflow", "sqlalchemy", "pandas") if m in sys.modules))
sys.exit(code)
"""


@pytest.fixture
def warm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlops.yaml").write_text("project: {name: warm}\n")
    (tmp_path / "job.yml").write_text(PIPELINE)
    first = mlops("run", "job.yml")  # creates the store, through MLflow
    assert first.returncode == 0, first.stderr
    return tmp_path


def mlops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args, "--env-mode", "current", "-o", "json"],
        capture_output=True,
        text=True,
    )


def summary(result: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(result.stdout[: result.stdout.rindex("IMPORTED")])


def test_a_warm_run_imports_no_mlflow_and_mlflow_reads_back_its_runs(warm):
    result = mlops("run", "job.yml", "--no-cache", "--set", "inputs.alpha=0.75")
    assert result.returncode == 0, result.stderr
    assert "IMPORTED []" in result.stdout
    run = summary(result)

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{warm / '.mlops' / 'mlflow.db'}")
    parent = client.get_run(run["mlflow_run_id"])
    step = client.get_run(run["steps"][0]["mlflow_run_id"])
    assert (parent.info.status, step.info.status) == ("FINISHED", "FINISHED")
    assert parent.info.run_name == run["run_id"]
    assert parent.data.params["alpha"] == "0.75"
    assert parent.data.tags["mlops.run_id"] == run["run_id"]
    assert step.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert step.data.tags["mlflow.runName"] == step.info.run_name == "fit"
    assert step.data.params == {"alpha": "0.75"}
    assert step.data.metrics == {"loss": 0.25}  # logged by the step's own MLflow into the run
    assert step.info.end_time >= step.info.start_time
    assert step.info.artifact_uri.endswith(f"/{step.info.run_id}/artifacts")


def test_a_reused_step_gets_the_metrics_of_the_run_it_reuses(warm):
    result = mlops("run", "job.yml")
    assert result.returncode == 0, result.stderr
    [step] = summary(result)["steps"]
    assert step["status"] == "reused"

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{warm / '.mlops' / 'mlflow.db'}")
    reused = client.get_run(step["mlflow_run_id"])
    assert reused.data.metrics == {"loss": 0.25}
    assert [m.value for m in client.get_metric_history(reused.info.run_id, "loss")] == [0.25]
    assert reused.data.tags["mlops.reused_from"] == step["reused_from"]


def test_a_store_another_mlflow_made_is_left_to_mlflow(warm):
    state = warm / ".mlops"
    assert Store.open(state) is not None
    marker = state / MARKER
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "mlflow": "0.0.1"}))
    assert Store.open(state) is None  # another MLflow may have migrated the schema

    Tracking(state)  # MLflow checks (and would migrate) the store, then records it again
    assert Store.open(state) is not None


ISOLATED = """\
type: pipeline
experiment_name: fresh
jobs:
  fit:
    type: command
    command: python -c "import six"
    environment:
      image: mcr.microsoft.com/azureml/openmpi5.0-ubuntu24.04
      conda_file: six.yml
"""

SIX = f"""\
name: six
channels: [conda-forge]
dependencies:
  - python={sys.version_info.major}.{sys.version_info.minor}
  - pip
  - pip:
      - six==1.16.0
"""


def test_on_a_fresh_project_the_tracking_server_makes_the_store_not_the_runner(tmp_path):
    # the server imports MLflow anyway: started first, it makes the store while the run is
    # planned, and the runner writes the tables without ever importing MLflow itself
    (tmp_path / "mlops.yaml").write_text("project: {name: fresh}\n")
    (tmp_path / "job.yml").write_text(ISOLATED)
    (tmp_path / "six.yml").write_text(SIX)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "run", "job.yml", "--env-mode", "isolated", "-o", "json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MLOPS_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.returncode == 0, result.stderr
    assert "IMPORTED []" in result.stdout
    done = summary(result)
    assert done["steps"][0]["status"] == "completed"
    assert Store.open(tmp_path / ".mlops") is not None
    assert (Path(done["run_dir"]) / "tracking_server.log").is_file()


def test_the_tracking_server_starts_before_planning_only_for_a_fresh_store(tmp_path, warm):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "mlops.yaml").write_text("project: {name: fresh}\n")
    with run.tracking_server(load_config(fresh / "mlops.yaml"), "r1") as server:
        assert server.started  # nothing planned yet
        deadline = time.monotonic() + 60
        while not (fresh / ".mlops" / "mlflow.db").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    # stopped while it was making the store: it finished first, and left nothing else behind
    assert Store.open(fresh / ".mlops") is not None
    assert not (fresh / ".mlops" / "runs").exists()

    with run.tracking_server(load_config(warm / "mlops.yaml"), "r2") as server:
        assert not server.started  # started on first use, if a step needs it
    with run.tracking_server(load_config(fresh / "mlops.yaml"), "r3", early=False) as server:
        assert not server.started
