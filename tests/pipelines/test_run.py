"""`mlops run --env local` runs Azure ML pipeline jobs as Azure ML would."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def run(*args: str) -> tuple[int, dict]:
    result = run_cli("run", *args, "--output", "json")
    assert result.exception is None, repr(result.exception)
    return result.exit_code, result.json()


def steps(summary: dict) -> dict[str, dict]:
    return {s["step"]: s for s in summary["steps"]}


def output(summary: dict, step: str, name: str) -> Path:
    return Path(steps(summary)[step]["outputs"][name])


# --- data flow and literals -------------------------------------------------------------


def test_a_chain_of_three_steps_passes_data_from_step_to_step(pipeline_project):
    pipeline_project("chain")
    code, summary = run("pipeline.yml")
    assert code == 0
    assert [s["status"] for s in summary["steps"]] == ["completed"] * 3
    text = (output(summary, "third", "result") / "text.txt").read_text()
    assert text.splitlines() == ["start", "first", "second!"]


def test_literal_inputs_of_each_type_reach_the_command(pipeline_project):
    pipeline_project("chain")
    _, summary = run("pipeline.yml")
    report = json.loads((output(summary, "third", "result") / "report.json").read_text())
    assert report["text"] == "hello world"
    assert report["count"] == 3
    assert report["ratio"] == 0.5
    assert report["flag"] == "True"


def test_optional_argument_block_is_dropped_when_its_input_is_absent(pipeline_project):
    pipeline_project("chain")
    _, summary = run("pipeline.yml")
    first = json.loads((output(summary, "first", "result") / "argv.json").read_text())
    second = json.loads((output(summary, "second", "result") / "argv.json").read_text())
    assert "--suffix" not in first
    assert second[-2:] == ["--suffix", "!"]


def test_a_step_runs_in_its_code_folder_with_its_environment_variables(pipeline_project):
    root = pipeline_project("chain")
    _, summary = run("pipeline.yml")
    report = json.loads((output(summary, "third", "result") / "report.json").read_text())
    assert report["cwd"] == str(root / "report")
    assert report["title"] == "chained"


def test_pipeline_outputs_are_the_outputs_of_the_steps_bound_to_them(pipeline_project):
    pipeline_project("chain")
    _, summary = run("pipeline.yml")
    assert Path(summary["outputs"]["final"]) == output(summary, "third", "result")


def test_compute_and_environment_are_recorded_not_used(pipeline_project):
    pipeline_project("chain")
    _, summary = run("pipeline.yml")
    shown = run_cli("runs", "show", summary["run_id"], "-o", "json").json()
    assert shown["tags"]["mlops.default_compute"] == "azureml:cpu-cluster"
    first = next(s for s in shown["steps"] if s["name"] == "first")
    assert first["tags"]["mlops.compute"] == "azureml:cpu-cluster"
    assert first["tags"]["mlops.environment"] == "azureml:AzureML-sklearn-1.5@latest"


def test_outputs_and_logs_live_under_the_run_folder(pipeline_project):
    root = pipeline_project("chain")
    _, summary = run("pipeline.yml")
    run_dir = root / ".mlops" / "runs" / summary["run_id"]
    assert output(summary, "first", "result") == run_dir / "first" / "outputs" / "result"
    assert (run_dir / "third" / "std_log.txt").read_text() == "report written\n"
    assert json.loads((run_dir / "run.json").read_text())["run_id"] == summary["run_id"]


def test_set_overrides_pipeline_inputs_of_each_type(pipeline_project):
    pipeline_project("chain")
    code, summary = run(
        "pipeline.yml",
        "--set", "inputs.text=bye",
        "--set", "inputs.count=7",
        "--set", "inputs.ratio=0.25",
        "--set", "inputs.flag=false",
    )  # fmt: skip
    assert code == 0
    report = json.loads((output(summary, "third", "result") / "report.json").read_text())
    assert (report["text"], report["count"], report["ratio"], report["flag"]) == (
        "bye",
        7,
        0.25,
        "False",
    )


def test_set_can_point_a_data_input_at_another_local_folder(pipeline_project):
    root = pipeline_project("chain")
    (root / "other").mkdir()
    (root / "other" / "text.txt").write_text("other\n")
    _, summary = run("pipeline.yml", "--set", "inputs.raw=other")
    text = (output(summary, "third", "result") / "text.txt").read_text()
    assert text.splitlines()[0] == "other"


# --- parallelism and nesting ------------------------------------------------------------


def test_independent_steps_run_in_parallel(pipeline_project, tmp_path):
    pipeline_project("parallel")
    # each branch waits until the other has started: run one after the other, both fail
    code, summary = run("pipeline.yml", "--set", f"inputs.meeting={tmp_path / 'meet'}")
    assert code == 0, summary
    assert (output(summary, "left", "done") / "met").read_text() == "right"
    assert steps(summary)["join"]["status"] == "completed"


def test_nested_pipeline_components_run_two_levels_deep(pipeline_project):
    pipeline_project("nested")
    code, summary = run("pipeline.yml")
    assert code == 0
    assert list(steps(summary)) == ["outer/inner/step", "report"]
    text = (output(summary, "report", "result") / "text.txt").read_text()
    assert text.splitlines() == ["start", "deep", "top"]


# --- failures ---------------------------------------------------------------------------


def test_a_failing_step_fails_the_run_and_cancels_the_rest(pipeline_project):
    root = pipeline_project("failing")
    (root / "pipeline.yml").write_text(
        (root / "pipeline.yml").read_text().replace("wait: 0", "wait: 30")
    )
    code, summary = run("pipeline.yml")
    assert code == 1
    status = {s: d["status"] for s, d in steps(summary).items()}
    assert status == {"boom": "failed", "after": "canceled", "sibling": "canceled"}
    assert steps(summary)["boom"]["exit_code"] == 3


def test_a_failure_shows_the_command_and_the_last_log_lines(pipeline_project):
    pipeline_project("failing")
    result = run_cli("run", "pipeline.yml")
    assert result.exit_code == 1
    assert "step boom failed (exit code 3)" in result.stderr
    assert "command: python boom.py" in result.stderr
    assert "boom: the data is not what the step expected" in result.stderr


def test_continue_on_step_failure_lets_independent_steps_finish(pipeline_project):
    root = pipeline_project("failing")
    text = (root / "pipeline.yml").read_text()
    (root / "pipeline.yml").write_text(text.replace("failure: false", "failure: true"))
    code, summary = run("pipeline.yml")
    assert code == 1
    status = {s: d["status"] for s, d in steps(summary).items()}
    assert status == {"boom": "failed", "after": "skipped", "sibling": "completed"}


# --- reuse ------------------------------------------------------------------------------


def statuses(summary: dict) -> dict[str, str]:
    return {s: d["status"] for s, d in steps(summary).items()}


def test_an_unchanged_pipeline_run_twice_reuses_every_step(pipeline_project):
    pipeline_project("chain")
    _, first = run("pipeline.yml")
    _, second = run("pipeline.yml")
    assert set(statuses(second).values()) == {"reused"}
    assert {s["reused_from"] for s in second["steps"]} == {first["run_id"]}
    assert second["outputs"] == first["outputs"]


def test_changed_code_reruns_its_steps_and_reuses_consumers_of_unchanged_data(pipeline_project):
    root = pipeline_project("chain")
    run("pipeline.yml")
    script = root / "src" / "append.py"
    script.write_text(script.read_text() + "# a comment changes the code, not the data\n")
    _, again = run("pipeline.yml")
    assert statuses(again) == {"first": "completed", "second": "completed", "third": "reused"}


def test_a_changed_input_value_reruns_only_the_steps_that_use_it(pipeline_project):
    pipeline_project("chain")
    run("pipeline.yml")
    _, again = run("pipeline.yml", "--set", "inputs.text=changed")
    assert statuses(again) == {"first": "reused", "second": "reused", "third": "completed"}


def test_a_changed_input_file_reruns_the_steps_downstream_of_it(pipeline_project):
    root = pipeline_project("chain")
    run("pipeline.yml")
    (root / "data" / "text.txt").write_text("restart\n")
    _, again = run("pipeline.yml")
    assert set(statuses(again).values()) == {"completed"}


def test_no_cache_runs_every_step(pipeline_project):
    pipeline_project("chain")
    run("pipeline.yml")
    _, again = run("pipeline.yml", "--no-cache")
    assert set(statuses(again).values()) == {"completed"}


def test_a_non_deterministic_component_is_never_reused(pipeline_project):
    root = pipeline_project("chain")
    component = root / "components" / "append.yml"
    component.write_text(component.read_text() + "is_deterministic: false\n")
    run("pipeline.yml")
    _, again = run("pipeline.yml")
    assert statuses(again) == {"first": "completed", "second": "completed", "third": "reused"}


def test_a_failed_step_is_not_reused(pipeline_project):
    pipeline_project("failing")
    run("pipeline.yml")
    _, again = run("pipeline.yml")
    assert steps(again)["boom"]["status"] == "failed"


# --- MLflow -----------------------------------------------------------------------------


def test_each_step_logs_to_its_own_mlflow_child_run(pipeline_project):
    pipeline_project("metrics")
    code, summary = run("pipeline.yml")
    assert code == 0
    shown = run_cli("runs", "show", summary["run_id"], "-o", "json").json()
    (train,) = shown["steps"]
    assert train["metrics"] == {"accuracy": 0.875}
    assert train["params"]["active_run"] == steps(summary)["train"]["mlflow_run_id"]
    assert shown["tags"]["mlops.pipeline"] == "pipeline.yml"


def test_a_reused_step_shows_the_metrics_of_the_run_it_reuses(pipeline_project):
    pipeline_project("metrics")
    run("pipeline.yml")
    _, again = run("pipeline.yml")
    shown = run_cli("runs", "show", again["run_id"], "-o", "json").json()
    assert shown["steps"][0]["metrics"] == {"accuracy": 0.875}
    assert shown["steps"][0]["tags"]["mlops.reused_from"] != again["run_id"]


def test_runs_list_shows_the_latest_runs_first(pipeline_project):
    pipeline_project("chain")
    _, first = run("pipeline.yml")
    _, second = run("pipeline.yml")
    listed = run_cli("runs", "list", "-o", "json").json()
    assert [r["run_id"] for r in listed] == [second["run_id"], first["run_id"]]


def test_runs_show_of_an_unknown_run_fails_with_a_hint(pipeline_project):
    pipeline_project("chain")
    run("pipeline.yml")
    result = run_cli("runs", "show", "nope")
    assert result.exit_code == 1
    assert "mlops runs list" in result.stderr


# --- the command line -------------------------------------------------------------------


def test_the_default_pipeline_is_model_pipeline_from_mlops_yaml(pipeline_project):
    pipeline_project(
        "chain", "project: {name: suite}\nmodel: {pipeline: pipeline.yml, primary_metric: acc}\n"
    )
    code, summary = run()
    assert code == 0
    assert summary["pipeline"].endswith("pipeline.yml")


def test_without_a_pipeline_or_model_section_run_says_what_to_add(pipeline_project):
    pipeline_project("chain")
    result = run_cli("run")
    assert result.exit_code == 2
    assert "model:" in result.stderr


def test_verbose_streams_each_steps_output(pipeline_project):
    pipeline_project("chain")
    result = run_cli("run", "pipeline.yml", "-v")
    assert result.exit_code == 0
    assert "third | report written" in result.stderr


def test_the_summary_table_names_every_step(pipeline_project):
    pipeline_project("chain")
    result = run_cli("run", "pipeline.yml")
    assert result.exit_code == 0
    for step in ("first", "second", "third"):
        assert step in result.stdout
    assert "completed in" in result.stderr


def test_set_needs_inputs_name_equals_value(pipeline_project):
    pipeline_project("chain")
    assert run_cli("run", "pipeline.yml", "--set", "count=3").exit_code == 2


def test_an_azure_run_without_a_subscription_is_refused_before_any_call(pipeline_project):
    pipeline_project("chain")
    result = run_cli("run", "pipeline.yml", "--env", "dev")
    assert result.exit_code == 2
    assert "azure.subscription_id" in result.stderr


def test_an_unknown_environment_is_refused(pipeline_project):
    pipeline_project("chain")
    result = run_cli("run", "pipeline.yml", "--env", "staging")
    assert result.exit_code == 2
    assert "not an Azure environment" in result.stderr


def test_ctrl_c_stops_the_running_steps_and_exits_130(pipeline_project, tmp_path):
    import signal
    import subprocess
    import sys
    import time
    import uuid

    root = pipeline_project("failing")
    marker = uuid.uuid4().hex
    started = tmp_path / "started"
    (root / "slow.yml").write_text(
        "type: pipeline\n"
        "jobs:\n"
        "  slow:\n"
        "    type: command\n"
        f"    command: touch {started} && python -c 'import time; time.sleep(60)' {marker}\n"
        "    environment: azureml:x@latest\n"
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "mlops", "run", "slow.yml"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # as from a terminal: a shell without job control starts background jobs with
        # SIGINT ignored, and children inherit that (a CI script run with `&` did)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not started.exists():
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.2)
    run.send_signal(signal.SIGINT)
    assert run.wait(timeout=30) == 130
    survivors = [
        p
        for p in Path("/proc").glob("[0-9]*/cmdline")
        if marker in p.read_bytes().decode(errors="ignore")
    ]
    assert survivors == []
