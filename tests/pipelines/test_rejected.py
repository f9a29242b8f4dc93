"""Bad pipelines exit 2 before any step runs, naming the file, the place and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def rejected(*args: str) -> dict:
    """Run, expect exit 2 with no run started, and return the JSON error report."""
    result = run_cli("run", *args, "--output", "json")
    assert result.exception is None, repr(result.exception)
    assert result.exit_code == 2, result.stdout
    assert not Path(".mlops/runs").exists()  # nothing ran, nothing written
    return result.json()


def messages(report: dict) -> str:
    return "\n".join(
        f"{i['file']}:{i['line']} {i['path']} {i['message']}" for i in report["issues"]
    )


def test_a_typo_is_rejected_with_the_sdks_message_and_the_file(pipeline_project):
    root = pipeline_project("failing")
    edit(root / "pipeline.yml", "    command: python boom.py", "    comand: python boom.py")
    report = rejected("pipeline.yml")
    assert "pipeline.yml" in messages(report)
    assert "azure-ai-ml:" in messages(report)


def test_a_binding_to_an_undeclared_pipeline_input_is_rejected_at_its_line(pipeline_project):
    root = pipeline_project("chain")
    edit(root / "pipeline.yml", "text: ${{parent.inputs.text}}", "text: ${{parent.inputs.txt}}")
    report = rejected("pipeline.yml")
    issue = next(i for i in report["issues"] if i["path"] == "jobs.third.inputs.text")
    assert issue["line"] == 44
    assert "'txt', which is not declared" in issue["message"]
    assert issue["hint"] == "did you mean 'text'?"


def test_a_command_using_an_undeclared_input_is_rejected(pipeline_project):
    root = pipeline_project("chain")
    edit(root / "components" / "append.yml", "--word ${{inputs.word}}", "--word ${{inputs.wrd}}")
    report = rejected("pipeline.yml")
    assert "'wrd' is not a declared input" in messages(report)
    assert "append.yml" in messages(report)


def test_an_optional_input_outside_an_optional_block_is_rejected(pipeline_project):
    root = pipeline_project("chain")
    edit(
        root / "components" / "append.yml",
        "$[[--suffix ${{inputs.suffix}}]]",
        "--suffix ${{inputs.suffix}}",
    )
    report = rejected("pipeline.yml")
    assert "optional input 'suffix' is used outside a $[[ ... ]] block" in messages(report)


def test_a_step_input_its_component_does_not_declare_is_rejected(pipeline_project):
    root = pipeline_project("chain")
    edit(root / "pipeline.yml", "      word: first\n", "      word: first\n      colour: red\n")
    report = rejected("pipeline.yml")
    assert "gives input 'colour', which its component does not declare" in messages(report)


def test_a_missing_local_input_path_is_rejected(pipeline_project):
    root = pipeline_project("chain")
    edit(root / "pipeline.yml", "path: ./data", "path: ./no-such-data")
    report = rejected("pipeline.yml")
    assert "pipeline input 'raw' (used by step 'first'): ./no-such-data does not exist" in (
        messages(report)
    )


def test_an_unsupported_job_type_is_rejected_naming_the_step_and_type(pipeline_project):
    root = pipeline_project("chain")
    (root / "automl.yml").write_text(
        """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
inputs:
  train: {type: mltable, path: ./data}
jobs:
  classify:
    type: automl
    task: classification
    primary_metric: accuracy
    target_column_name: y
    training_data: ${{parent.inputs.train}}
    limits: {max_trials: 1}
"""
    )
    report = rejected("automl.yml")
    assert "step 'classify' is of type automl, which runs only on Azure ML" in messages(report)
    assert "--env dev" in report["issues"][0]["hint"]


@pytest.mark.parametrize(
    "reference",
    ["azureml:churn-raw:3", "azureml:churn-raw@latest", "azureml://datastores/x/paths/y/"],
)
def test_an_unmapped_azure_data_reference_names_the_entry_to_add(pipeline_project, reference):
    root = pipeline_project("chain")
    edit(root / "pipeline.yml", "path: ./data", f"path: {reference}")
    report = rejected("pipeline.yml")
    issue = report["issues"][0]
    assert "pipeline input 'raw' (used by step 'first') refers to Azure data" in issue["message"]
    assert f"azure_path: {reference}" in issue["hint"]


def test_a_mapped_azure_data_reference_runs_on_the_local_copy(pipeline_project):
    root = pipeline_project(
        "chain",
        "project: {name: suite}\n"
        "data:\n"
        "  churn-raw: {local_path: data, azure_path: 'azureml:churn-raw:3', version: '3'}\n",
    )
    edit(root / "pipeline.yml", "path: ./data", "path: azureml:churn-raw:3")
    result = run_cli("run", "pipeline.yml", "-o", "json")
    assert result.exit_code == 0, result.stdout
    assert result.json()["steps"][0]["status"] == "completed"


def test_set_of_an_undeclared_input_is_rejected_with_a_suggestion(pipeline_project):
    pipeline_project("chain")
    report = rejected("pipeline.yml", "--set", "inputs.cont=3")
    assert "did you mean 'count'?" in [i["hint"] for i in report["issues"]]


def test_set_of_a_value_of_the_wrong_type_is_rejected(pipeline_project):
    pipeline_project("chain")
    report = rejected("pipeline.yml", "--set", "inputs.count=many")
    assert "expected an integer, got 'many'" in messages(report)


def test_a_registered_component_is_rejected_because_it_cannot_run_here(pipeline_project):
    root = pipeline_project("chain")
    edit(root / "pipeline.yml", "component: ./components/append.yml", "component: azureml:append:1")
    report = rejected("pipeline.yml")
    assert "registered component" in messages(report)


# --- mlops validate ---------------------------------------------------------------------


def test_validate_accepts_every_fixture_pipeline(cli):
    fixtures = Path(__file__).parent / "fixtures"
    result = cli("validate", str(fixtures), "-o", "json")
    assert result.exit_code == 0, result.stdout
    kinds = {Path(f["file"]).name: f["kind"] for f in result.json()["files"]}
    assert kinds["outer.yml"] == "pipeline_component"
    assert kinds["append.yml"] == "command"


def test_validate_names_each_bad_file_and_problem_and_runs_nothing(pipeline_project, cli):
    root = pipeline_project("chain")
    edit(root / "components" / "append.yml", "--word ${{inputs.word}}", "--word ${{inputs.wrd}}")
    result = cli("validate", ".")
    assert result.exit_code == 2
    assert "append.yml:" in result.stderr
    assert "'wrd' is not a declared input" in result.stderr
    assert not Path(".mlops/runs").exists()


def test_validate_defaults_to_the_pipelines_folder(pipeline_project, cli):
    root = pipeline_project("chain")
    (root / "pipelines").mkdir()
    result = cli("validate")
    assert result.exit_code == 2
    assert "no YAML files" in result.stderr


def test_a_pipeline_file_that_does_not_exist_is_named(pipeline_project):
    pipeline_project("chain")
    report = rejected("nope.yml")
    assert report["message"] == "nope.yml does not exist"
