"""`mlops run` runs a standalone `type: command` job as a one-step pipeline, and
`mlops validate` checks it as `mlops run` would."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def run(*args: str) -> tuple[int, dict]:
    result = run_cli("run", *args, "--output", "json")
    assert result.exception is None, repr(result.exception)
    return result.exit_code, result.json()


def model(summary: dict) -> dict:
    (step,) = summary["steps"]
    return json.loads((Path(step["outputs"]["model"]) / "model.json").read_text())


def test_a_command_job_runs_as_one_step_named_after_the_job(pipeline_project):
    root = pipeline_project("command")
    code, summary = run("job.yml")
    assert code == 0, summary
    (step,) = summary["steps"]
    assert (step["step"], step["status"]) == ("train", "completed")
    run_dir = root / ".mlops" / "runs" / summary["run_id"]
    assert Path(step["outputs"]["model"]) == run_dir / "train" / "outputs" / "model"
    assert Path(summary["outputs"]["model"]) == run_dir / "train" / "outputs" / "model"
    assert model(summary) == {"alpha": 0.5, "words": ["one", "two", "three"], "greeting": "hello"}
    assert summary["experiment"] == "command-job"


def test_a_command_job_is_the_parent_run_and_its_metrics_are_on_the_step_run(pipeline_project):
    pipeline_project("command")
    _, summary = run("job.yml")
    shown = run_cli("runs", "show", summary["run_id"], "-o", "json").json()
    assert shown["name"] == "train once"  # display_name, as Azure ML shows it
    assert shown["tags"]["mlops.pipeline"] == "job.yml"
    (train,) = shown["steps"]
    assert train["name"] == "train"
    assert train["metrics"] == {"words": 3.0, "alpha": 0.5}


def test_set_overrides_a_command_jobs_literal_and_data_inputs(pipeline_project):
    root = pipeline_project("command")
    (root / "other").mkdir()
    (root / "other" / "words.txt").write_text("four\n")
    code, summary = run("job.yml", "--set", "inputs.alpha=2", "--set", "inputs.data=other")
    assert code == 0, summary
    assert model(summary)["alpha"] == 2.0
    assert model(summary)["words"] == ["four"]


def test_an_unchanged_command_job_run_twice_is_reused(pipeline_project):
    pipeline_project("command")
    _, first = run("job.yml")
    _, again = run("job.yml")
    assert [s["status"] for s in again["steps"]] == ["reused"]
    assert again["outputs"] == first["outputs"]
    shown = run_cli("runs", "show", again["run_id"], "-o", "json").json()
    assert shown["steps"][0]["metrics"] == {"words": 3.0, "alpha": 0.5}
    _, changed = run("job.yml", "--set", "inputs.alpha=0.25")
    assert [s["status"] for s in changed["steps"]] == ["completed"]


def test_validate_checks_a_command_job(pipeline_project):
    pipeline_project("command")
    result = run_cli("validate", "job.yml", "-o", "json")
    assert result.exit_code == 0, result.stdout
    assert result.json()["files"] == [
        {"file": "job.yml", "kind": "command", "job": True, "problems": 0, "warnings": 0}
    ]
    assert not Path(".mlops/runs").exists()


def test_validate_rejects_a_broken_command_job_at_its_line(pipeline_project):
    root = pipeline_project("command")
    edit(root / "job.yml", "--data ${{inputs.data}}", "--data ${{inputs.dta}}")
    result = run_cli("validate", "job.yml", "-o", "json")
    assert result.exit_code == 2, result.stdout
    (issue,) = result.json()["issues"]
    assert (issue["file"], issue["line"], issue["path"]) == ("job.yml", 7, "command")
    assert "'dta' is not a declared input" in issue["message"]
    assert issue["hint"] == "did you mean 'data'?"
    assert run_cli("run", "job.yml").exit_code == 2
    assert not Path(".mlops/runs").exists()


def test_validate_rejects_a_command_job_whose_data_input_is_missing(pipeline_project):
    root = pipeline_project("command")
    edit(root / "job.yml", "path: ./data", "path: ./no-such-data")
    result = run_cli("validate", "job.yml", "-o", "json")
    assert result.exit_code == 2, result.stdout
    assert "no-such-data does not exist" in result.json()["issues"][0]["message"]


def test_a_component_file_is_not_run_as_a_job(pipeline_project):
    pipeline_project("chain")
    result = run_cli("run", "components/append.yml", "-o", "json")
    assert result.exit_code == 2
    assert result.json()["message"] == "append.yml is a command component, not a job"
