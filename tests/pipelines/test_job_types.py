"""Sweep, parallel and distributed jobs run on this machine with Azure ML's semantics, through
`mlops run`; what still cannot run locally is refused before any step, naming what to do.

The units (search spaces, samplers, policies, the parallel driver, the launcher) have their
own suites in tests/sweep, tests/parallel and tests/distribution.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.pipelines.test_rejected import messages, rejected


def run_json(*args: str) -> dict:
    result = run_cli("run", *args, "-o", "json")
    assert result.exception is None, repr(result.exception)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.json()


def steps(report: dict) -> dict[str, dict]:
    return {s["step"]: s for s in report["steps"]}


def test_grid_sweep_runs_every_combination_and_the_next_step_reads_the_best_trial(
    pipeline_project,
):
    pipeline_project("sweep")
    report = run_json("grid.yml")
    tune = steps(report)["tune"]
    trials = tune["sweep"]["trials"]
    assert len(trials) == 6
    assert {(t["params"]["lr"], t["params"]["kind"]) for t in trials} == {
        (lr, kind) for lr in (0.1, 0.5) for kind in ("linear", "tree", "stump")
    }
    assert all(t["status"] == "completed" for t in trials)
    best = max(trials, key=lambda t: t["objective"])
    assert best["params"] == {"lr": 0.1, "kind": "linear"}
    assert tune["sweep"]["best"]["index"] == best["index"]
    seen = Path(steps(report)["check"]["outputs"]["seen"]) / "seen.json"
    assert json.loads(seen.read_text()) == {"lr": 0.1, "kind": "linear"}  # the best's outputs


def test_each_trial_is_a_child_run_of_the_sweep_step_with_its_parameters(pipeline_project):
    pipeline_project("sweep")
    report = run_json("grid.yml")
    from mlops.backends.local.tracking import open_client

    client = open_client(Path(".mlops"))
    tune = steps(report)["tune"]
    for index, run_id in tune["sweep"]["trial_runs"].items():
        run = client.get_run(run_id)
        assert run.data.tags["mlflow.parentRunId"] == tune["mlflow_run_id"]
        trial = tune["sweep"]["trials"][int(index)]
        assert run.data.params == {k: str(v) for k, v in trial["params"].items()}
    step_run = client.get_run(tune["mlflow_run_id"])
    assert step_run.data.tags["best_child_run_id"] == tune["sweep"]["best_child_run_id"]
    assert step_run.data.metrics["score"] == tune["sweep"]["best"]["objective"]


def test_an_unchanged_sweep_is_reused(pipeline_project):
    pipeline_project("sweep")
    run_json("grid.yml")
    again = steps(run_json("grid.yml"))
    assert again["tune"]["status"] == again["check"]["status"] == "reused"


def test_random_sweep_with_a_bandit_policy_stops_the_trials_that_fall_behind(pipeline_project):
    pipeline_project("sweep")
    trials = steps(run_json("bandit.yml"))["tune"]["sweep"]["trials"]
    stopped = [t for t in trials if t["status"] == "early_terminated"]
    assert stopped, [(t["params"], t["status"], t["metrics"]) for t in trials]
    assert all(t["params"]["kind"] == "stump" for t in stopped)  # only the weak ones
    assert all(len(t["metrics"]) < 5 for t in stopped)  # stopped before their last epoch
    assert any(t["params"]["kind"] == "linear" and t["status"] == "completed" for t in trials)


def test_bayesian_sweep_runs_its_trials(pipeline_project):
    pipeline_project("sweep")
    tune = steps(run_json("bayesian.yml"))["tune"]
    assert len(tune["sweep"]["trials"]) == 4
    assert tune["sweep"]["best"]["objective"] > 0


def test_a_sweep_job_in_microsofts_format_validates_with_the_sdk_and_runs(pipeline_project):
    pipeline_project("sweep")
    validated = run_cli("validate", "sweep_job.yml", "-o", "json")
    assert validated.exit_code == 0, validated.stdout
    report = run_json("sweep_job.yml")
    (step,) = report["steps"]
    assert step["status"] == "completed"
    assert len(step["sweep"]["trials"]) == 4
    best_model = Path(report["outputs"]["model"]) / "model.json"
    assert json.loads(best_model.read_text())["kind"] == step["sweep"]["best"]["params"]["kind"]


def test_a_parallel_step_over_ten_files_runs_four_mini_batches_in_order(pipeline_project):
    pipeline_project("parallel_job")
    score = steps(run_json("pipeline.yml"))["score"]
    rows = (Path(score["outputs"]["scored"]) / "parallel_run_step.txt").read_text().splitlines()
    assert rows == [f"f0{i}.txt {(i + 10) * 2}" for i in range(10)]
    log = Path(score["log"]).read_text()
    assert log.count("mini-batch") >= 4 and "4/4" in log


def test_a_parallel_step_honours_its_error_threshold(pipeline_project):
    root = pipeline_project("parallel_job")
    (root / "data" / "files" / "f05.txt").write_text("-1\n")  # run() cannot score it
    failed = run_cli("run", "pipeline.yml", "-o", "json")
    assert failed.exit_code == 1
    text = (root / "pipeline.yml").read_text()
    (root / "pipeline.yml").write_text(text.replace("error_threshold: 0", "error_threshold: 1"))
    score = steps(run_json("pipeline.yml"))["score"]
    rows = (Path(score["outputs"]["scored"]) / "parallel_run_step.txt").read_text().splitlines()
    assert len(rows) == 9 and "f05.txt" not in "\n".join(rows)


def test_a_distributed_pytorch_job_runs_one_process_per_rank(pipeline_project):
    pipeline_project("distributed")
    report = run_json("job.yml")
    folder = Path(report["outputs"]["ranks"])
    ranks = [json.loads((folder / f"rank_{r}.json").read_text()) for r in (0, 1)]
    assert [r["RANK"] for r in ranks] == ["0", "1"]
    assert [r["LOCAL_RANK"] for r in ranks] == ["0", "1"]
    assert {r["WORLD_SIZE"] for r in ranks} == {"2"}
    assert {r["MASTER_ADDR"] for r in ranks} == {"127.0.0.1"}
    assert len({r["MASTER_PORT"] for r in ranks}) == 1


def test_a_job_type_that_runs_only_on_azure_is_refused_naming_what_to_do(pipeline_project):
    root = pipeline_project("chain")
    (root / "automl.yml").write_text(
        """\
$schema: https://azuremlschemas.azureedge.net/latest/autoMLJob.schema.json
type: automl
task: classification
primary_metric: accuracy
target_column_name: y
training_data: {type: mltable, path: ./data}
compute: azureml:cpu-cluster
limits: {max_trials: 1}
"""
    )
    report = rejected("automl.yml")
    assert "of type automl, which cannot run on this machine" in report["message"]
    assert "--env dev" in report["hint"]
    assert "'automl' jobs run only on Azure ML" in messages(report)
    validated = run_cli("validate", "automl.yml", "-o", "json")
    assert validated.exit_code != 0  # validate refuses what run refuses
