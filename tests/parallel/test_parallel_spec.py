"""`parse_parallel` reads a parallel step as Azure ML documents it, refuses what the local run
or the SDK cannot take in one error, and `driver_command` quotes every literal it inserts."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlops.errors import PipelineError
from mlops.pipeline.expressions import render
from mlops.pipeline.model import Where
from mlops.pipeline.parallel import DRIVER_MODULE, ParallelSpec, driver_command, parse_parallel

FIXTURES = Path(__file__).parent / "fixtures"
HOSTILE = 'it\'s a "dir" $(touch PWNED) `touch PWNED` ü'


def step(**overrides: Any) -> dict[str, Any]:
    """A parallel step shaped like D:how-to-use-parallel-job-in-pipeline's iris example."""
    data: dict[str, Any] = {
        "type": "parallel",
        "inputs": {"images": {"type": "uri_folder", "path": "./data"}, "model": "./m"},
        "outputs": {"scores": {"type": "uri_folder"}},
        "input_data": "${{inputs.images}}",
        "mini_batch_size": "3",
        "task": {
            "type": "run_function",
            "code": "./code",
            "entry_script": "score.py",
            "environment": {"image": "python:3.11", "conda_file": "./env.yml"},
            "program_arguments": "--model ${{inputs.model}}",
            "append_row_to": "${{outputs.scores}}",
        },
    }
    data.update(overrides)
    return data


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A pipeline file beside a code folder holding the fixtures' entry scripts."""
    shutil.copytree(FIXTURES / "code", tmp_path / "code")
    return tmp_path / "pipeline.yml"


def parse(data: dict[str, Any], file: Path, path: str = "jobs.score") -> ParallelSpec:
    return parse_parallel(data, file, Where(file, 7, 3), path)


def refused(data: dict[str, Any], file: Path) -> dict[str, str]:
    with pytest.raises(PipelineError) as caught:
        parse(data, file)
    assert all(issue.line == 7 for issue in caught.value.issues)
    return {issue.path: issue.message for issue in caught.value.issues}


def test_a_documented_step_becomes_a_spec_with_azure_defaults(project: Path) -> None:
    spec = parse(step(), project)
    assert spec.entry_script == (project.parent / "code" / "score.py").resolve()
    assert spec.code == (project.parent / "code").resolve()
    assert (spec.input_data, spec.input_name) == ("${{inputs.images}}", "images")
    assert (spec.append_row_to, spec.output_name) == ("${{outputs.scores}}", "scores")
    assert spec.mini_batch_size == 3
    # D:reference-yaml-job-parallel defaults
    assert (spec.error_threshold, spec.mini_batch_error_threshold) == (-1, -1)
    assert (spec.max_retries, spec.timeout, spec.instance_count) == (2, 60, 1)
    assert spec.max_concurrency_per_instance is None  # the machine's cores, found at run time
    assert spec.logging_level == "INFO"
    assert spec.environment == {"image": "python:3.11", "conda_file": "./env.yml"}


def test_every_setting_is_read(project: Path) -> None:
    spec = parse(
        step(
            mini_batch_size="10kb",
            error_threshold=5,
            mini_batch_error_threshold="4",
            max_concurrency_per_instance=2,
            resources={"instance_count": 3},
            retry_settings={"max_retries": 0, "timeout": 5},
            logging_level="DEBUG",
            environment_variables={"AZUREML_PARALLEL_EXAMPLE": "2a_yaml", "N": 1},
        ),
        project,
    )
    assert spec.mini_batch_size == 10240  # the SDK's kb = 1024
    assert (spec.error_threshold, spec.mini_batch_error_threshold) == (5, 4)
    assert (spec.max_concurrency_per_instance, spec.instance_count, spec.workers) == (2, 3, 6)
    assert (spec.max_retries, spec.timeout, spec.logging_level) == (0, 5, "DEBUG")
    assert spec.environment_variables == {"AZUREML_PARALLEL_EXAMPLE": "2a_yaml", "N": "1"}


@pytest.mark.parametrize(("written", "size"), [("1MB", 1024**2), ("2gb", 2 * 1024**3), ("7", 7)])
def test_mini_batch_size_units(project: Path, written: str, size: int) -> None:
    assert parse(step(mini_batch_size=written), project).mini_batch_size == size


def test_without_append_row_to_the_step_is_summary_only(project: Path) -> None:
    data = step()
    del data["task"]["append_row_to"]
    spec = parse(data, project)
    assert spec.append_row_to is None
    assert "--append-row-to" not in driver_command(spec)


def test_every_problem_is_reported_at_once(project: Path) -> None:
    data = step(
        input_data="./data",
        mini_batch_size="100 kb",
        logging_level="info",
        retry_settings={"timeout": 300000},
        max_concurrency_per_instance=0,
    )
    data["task"] |= {"type": "model", "entry_script": "missing.py", "append_row_to": "out.csv"}
    issues = refused(data, project)
    assert set(issues) == {
        "jobs.score.input_data",
        "jobs.score.mini_batch_size",
        "jobs.score.logging_level",
        "jobs.score.retry_settings.timeout",
        "jobs.score.max_concurrency_per_instance",
        "jobs.score.task.type",
        "jobs.score.task.entry_script",
        "jobs.score.task.append_row_to",
    }
    assert "does not exist" in issues["jobs.score.task.entry_script"]


def test_an_unquoted_mini_batch_size_is_refused_as_the_sdk_does(project: Path) -> None:
    with pytest.raises(PipelineError) as caught:
        parse(step(mini_batch_size=3), project)
    assert caught.value.issues[0].hint == 'quote it: mini_batch_size: "3"'


def test_references_must_name_declared_inputs_and_outputs(project: Path) -> None:
    data = step(input_data="${{inputs.nope}}")
    data["task"]["append_row_to"] = "${{outputs.nope}}"
    issues = refused(data, project)
    assert "inputs.nope is not declared" in issues["jobs.score.input_data"]
    assert "outputs.nope is not declared" in issues["jobs.score.task.append_row_to"]


@pytest.mark.parametrize("where", ["step", "task"])
def test_output_action_is_refused_with_the_sdks_reason(project: Path, where: str) -> None:
    """azure-ai-ml 1.35 `load_job` fails a pipeline whose parallel step has `output_action`
    (as for any unknown key) and drops it from `task:`: honouring it would diverge from Azure."""
    data = step()
    (data if where == "step" else data["task"])["output_action"] = "summary_only"
    issues = refused(data, project)
    key = "jobs.score.output_action" if where == "step" else "jobs.score.task.output_action"
    assert "batch deployments" in issues[key]


def test_partition_keys_and_a_missing_task_are_refused(project: Path) -> None:
    data = step(partition_keys=["Store"])
    del data["task"]
    issues = refused(data, project)
    assert set(issues) == {"jobs.score.partition_keys", "jobs.score.task"}


def test_the_entry_script_must_be_inside_a_local_code_folder(project: Path) -> None:
    (project.parent / "outside.py").write_text("def init(): pass\n")
    data = step()
    data["task"]["entry_script"] = "../outside.py"
    assert "outside the code folder" in refused(data, project)["jobs.score.task.entry_script"]
    data["task"]["code"] = "azureml:my-code:1"
    assert "not a local folder" in refused(data, project)["jobs.score.task.code"]


def test_a_component_file_has_no_path_prefix(project: Path) -> None:
    with pytest.raises(PipelineError) as caught:
        parse(step(logging_level="ERROR"), project, path="")
    assert [issue.path for issue in caught.value.issues] == ["logging_level"]


def test_the_command_quotes_literals_and_keeps_bindings_for_the_renderer(tmp_path: Path) -> None:
    file = tmp_path / HOSTILE / "pipeline.yml"
    shutil.copytree(FIXTURES / "code", file.parent / "code dir")
    data = step(max_concurrency_per_instance=2, logging_level="WARNING")
    data["task"] |= {
        "code": "./code dir",
        "program_arguments": "--model ${{inputs.model}}\n--allowed_failed_percent 30",
    }
    command = driver_command(parse(data, file))
    assert command.startswith(f"python -m {DRIVER_MODULE} ")
    assert "--input ${{inputs.images}}" in command
    assert "--append-row-to ${{outputs.scores}}" in command
    assert command.endswith("-- --model ${{inputs.model}} --allowed_failed_percent 30")

    values = {
        ("inputs", "images"): f"/data/{HOSTILE}",
        ("inputs", "model"): "m$(touch PWNED)",
        ("outputs", "scores"): "/out/x y",
    }
    words = shlex.split(render(command, values.get))
    assert words[words.index("--entry-script") + 1] == str(file.parent / "code dir" / "score.py")
    assert words[words.index("--input") + 1] == f"/data/{HOSTILE}"
    assert words[words.index("--append-row-to") + 1] == "/out/x y"
    assert words[words.index("--max-concurrency-per-instance") + 1] == "2"
    assert words[words.index("--") + 1 :] == [
        "--model",
        "m$(touch PWNED)",
        "--allowed_failed_percent",
        "30",
    ]
