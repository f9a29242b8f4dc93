"""The gate cannot be bypassed from the command line, and runs at once end as one at a time
would: the reference project, the real runner and the real MLflow registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops.gate import GATE_INPUTS, LINEAGE_INPUTS
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project from `mlops init`, never run: no `.mlops/` yet."""
    root = tmp_path_factory.mktemp("gate") / "demo"
    result = run_cli("init", str(root), "-o", "json")
    assert result.exit_code == 0, result.stderr
    return root


@pytest.mark.parametrize(
    "name",
    [*GATE_INPUTS, *LINEAGE_INPUTS, "force_register"],
)
@pytest.mark.parametrize("env", ["local", "dev"])
def test_set_cannot_change_what_the_gate_and_lineage_rely_on(reference, monkeypatch, name, env):
    monkeypatch.chdir(reference)
    result = run_cli("run", "--env", env, "--set", f"inputs.{name}=0.5")
    assert result.exit_code == 2
    assert f"--set inputs.{name}" in result.stderr
    key = GATE_INPUTS.get(name)
    if key:
        assert f"change {key} in mlops.yaml" in result.stderr
    assert not (reference / ".mlops" / "runs").exists()  # nothing ran


def test_every_violation_is_reported_at_once(reference, monkeypatch):
    monkeypatch.chdir(reference)
    result = run_cli(
        "run", "--set", "inputs.threshold=0.5", "--set", "inputs.git_commit=deadbeef", "-o", "json"
    )
    assert result.exit_code == 2
    paths = [issue["path"] for issue in result.json()["issues"]]
    assert paths == ["--set inputs.threshold", "--set inputs.git_commit"]


def test_three_first_runs_at_once_all_succeed_and_the_best_model_ends_champion(reference):
    """A new project (the store does not exist yet), three runs started together with
    models of different quality: the store is created once, each gate decision is taken
    against the champion as it is when that run registers, and the best model wins."""

    def start(regularization: str) -> subprocess.Popen[bytes]:
        command = ["run", "-o", "json", "--set", f"inputs.regularization={regularization}"]
        return subprocess.Popen(
            [sys.executable, "-m", "mlops", *command],
            cwd=reference,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    runs = {regularization: start(regularization) for regularization in ("0.0001", "0.01", "0.001")}
    summaries = {}
    for regularization, process in runs.items():
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err.decode(errors="replace")[-2000:]
        summaries[regularization] = json.loads(out)
    registered = {
        r: s["gate"]["registered_version"]
        for r, s in summaries.items()
        if s["gate"]["registered_version"]
    }
    assert "0.01" in registered  # the best (roc_auc 0.9987) is registered whatever the order

    os.chdir(reference)
    shown = run_cli("models", "show", "demo", "-o", "json").json()
    assert shown["version"] == registered["0.01"]
    assert "champion" in shown["aliases"]
    # every run says what the gate decided, in its JSON and in `runs show`
    for summary in summaries.values():
        assert summary["gate"]["decision"] in ("promoted", "not promoted")
        detail = run_cli("runs", "show", summary["run_id"], "-o", "json").json()
        assert detail["gate"]["decision"] == summary["gate"]["decision"]
    table = run_cli("runs", "show", summaries["0.01"]["run_id"]).stdout
    assert "gate: promoted" in table and f"registered: version {registered['0.01']}" in table
