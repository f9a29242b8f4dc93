"""`mlops validate` rejects exactly what `mlops run` rejects before a step starts, on every
fixture of the suite and on files each check rejects; and what Azure ML accepts runs here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlops.errors import MlopsError
from tests.conftest import run_cli

TESTS = Path(__file__).parents[1]
ROOTS = [TESTS / "pipelines" / "fixtures", TESTS / "environments" / "fixtures"]
FILES = sorted(f for root in ROOTS for f in root.rglob("*") if f.suffix in (".yml", ".yaml"))
#: the data a project's mlops.yaml maps to local copies
CONFIG = """\
project: {name: suite}
data:
  words: {local_path: command/data, azure_path: 'azureml:words:1'}
"""


def command_job(path: str, kind: str = "uri_folder", command: str = "ls ${{inputs.words}}") -> str:
    return f"""\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
command: {command}
environment: azureml:AzureML-sklearn-1.5@latest
inputs:
  words:
    type: {kind}
    path: {path}
"""


#: files that stop at one check each (written beside the fixtures, in the project's root)
CASES = {
    "mapped-asset.yml": command_job("azureml:words:1"),
    "unmapped-asset.yml": command_job("azureml:unmapped-words:1"),
    "unmapped-datastore.yml": command_job("azureml://datastores/blobs/paths/words/"),
    "web-url.yml": command_job("https://example.com/data/words.csv", "uri_file"),
    "missing-data.yml": command_job("./no-such-data"),
    "bad-binding.yml": command_job("command/data", command="ls ${{inputs.wrds}}"),
    "sdk-rejects.yml": command_job("command/data").replace("inputs:", "inptus:"),
    "conda.yml": "name: env\ndependencies: [python=3.11]\n",
    "azure-only.yml": "type: automl\ntask: classification\nprimary_metric: accuracy\n"
    "target_column_name: y\ntraining_data: {type: mltable, path: ./command/data}\n",
}


@pytest.fixture
def fixture_project(tmp_path, monkeypatch, empty_mlflow_db):
    """A project holding the fixtures of the suite `file` belongs to and CASES; cd there."""

    def make(file: Path) -> Path:
        root = next((r for r in ROOTS if r in file.parents), ROOTS[0])
        project = tmp_path / "project"
        shutil.copytree(root, project)
        for name, text in CASES.items():
            (project / name).write_text(text)
        (project / "mlops.yaml").write_text(CONFIG)
        (project / ".mlops").mkdir(exist_ok=True)
        shutil.copy(empty_mlflow_db, project / ".mlops" / "mlflow.db")
        monkeypatch.chdir(project)
        return project / (file.relative_to(root) if root in file.parents else file.name)

    return make


def run_checks(file: Path) -> MlopsError | None:
    """What `mlops run` does before any step starts (`prepare`); the error it stops on."""
    from mlops.config import find_config, load_config
    from mlops.services.run import prepare

    try:
        prepare(load_config(find_config()), file, {}, run_id="parity")
    except MlopsError as exc:
        return exc
    return None


@pytest.mark.parametrize(
    "fixture",
    [*FILES, *(Path(name) for name in CASES)],
    ids=lambda f: str(f.relative_to(TESTS)) if f.is_absolute() else f"case/{f}",
)
def test_validate_accepts_a_file_exactly_when_run_gets_past_its_checks(fixture_project, fixture):
    file = fixture_project(fixture)
    validated = run_cli("validate", str(file), "-o", "json")
    assert validated.exception is None, repr(validated.exception)
    assert validated.exit_code in (0, 2), validated.stderr
    stopped = run_checks(file)
    if validated.exit_code == 0 and not validated.json()["files"][0]["job"]:
        # a component, a conda file: validate checks it as what it is; run refuses it as a job
        assert stopped is not None
        assert "not a job" in stopped.message or "is not an Azure ML job" in stopped.message
    else:
        assert (validated.exit_code == 0) == (stopped is None), (validated.stdout, stopped)
    assert not Path(".mlops/runs").exists()  # neither ran anything


def test_every_case_stops_where_it_is_meant_to(fixture_project):
    """The cases above cover each check: a mapped asset passes, each other job is rejected."""
    fixture_project(Path("mapped-asset.yml"))
    verdicts = {name: run_cli("validate", name).exit_code for name in CASES}
    assert verdicts == {
        name: 0 if name in ("mapped-asset.yml", "conda.yml") else 2 for name in CASES
    }


def test_validate_names_the_data_entry_an_unmapped_asset_needs(fixture_project):
    file = fixture_project(Path("unmapped-asset.yml"))
    result = run_cli("validate", str(file), "-o", "json")
    assert result.exit_code == 2
    (issue,) = result.json()["issues"]
    assert "refers to Azure data azureml:unmapped-words:1" in issue["message"]
    assert "  unmapped-words:\n    local_path: data/...\n    version: '1'\n" in issue["hint"]


def test_a_nested_step_input_its_component_does_not_declare_runs_with_a_warning(
    pipeline_project,
):
    pipeline_project("parity/nested-extra")
    result = run_cli("run", "pipeline.yml", "-o", "json")
    assert result.exit_code == 0, result.stdout
    assert [s["status"] for s in result.json()["steps"]] == ["completed"]
    assert "warning:" in result.stderr
    assert "gives input 'colour', which its component does not declare" in result.stderr
    validated = run_cli("validate", "pipeline.yml", "components", "-o", "json")
    assert validated.exit_code == 0, validated.stdout
    assert {f["file"]: f["warnings"] for f in validated.json()["files"]} == {
        "components/append.yml": 0,
        "components/outer.yml": 1,
        "pipeline.yml": 1,
    }


def test_a_web_url_input_is_told_to_download_it_and_point_local_path_at_it(fixture_project):
    file = fixture_project(Path("web-url.yml"))
    result = run_cli("validate", str(file), "-o", "json")
    assert result.exit_code == 2
    (issue,) = result.json()["issues"]
    assert "refers to Azure data https://example.com/data/words.csv" in issue["message"]
    assert "download it to a local file" in issue["hint"]
    assert "curl -fL -o data/words.csv 'https://example.com/data/words.csv'" in issue["hint"]
    assert "  words:\n    local_path: data/words.csv\n" in issue["hint"]


CONSUME = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
command: cp ${{inputs.words}}/words.txt ${{outputs.copy}}/
environment: azureml:AzureML-sklearn-1.5@latest
inputs:
  words:
    type: uri_folder
    path: azureml://datastores/workspaceblobstore/paths/shared/words/
outputs:
  copy:
    type: uri_folder
"""


def test_an_output_on_a_datastore_path_is_read_by_the_next_job(pipeline_project):
    root = pipeline_project("parity/datastore")
    (root / "consume.yml").write_text(CONSUME)
    assert run_cli("validate", "consume.yml").exit_code == 2  # nothing written there yet
    produced = run_cli("run", "produce.yml", "-o", "json")
    assert produced.exit_code == 0, produced.stdout
    folder = root / ".mlops" / "datastores" / "workspaceblobstore" / "shared" / "words"
    assert Path(produced.json()["outputs"]["words"]) == folder
    assert (folder / "words.txt").read_text() == "written upstream\n"
    consumed = run_cli("run", "consume.yml", "-o", "json")
    assert consumed.exit_code == 0, consumed.stdout
    copy = Path(consumed.json()["outputs"]["copy"]) / "words.txt"
    assert copy.read_text() == "written upstream\n"


def test_an_output_on_a_mapped_datastore_path_is_written_to_its_local_path(pipeline_project):
    root = pipeline_project(
        "parity/datastore",
        "project: {name: suite}\n"
        "data:\n"
        "  words:\n"
        "    local_path: data/words\n"
        "    azure_path: azureml://datastores/workspaceblobstore/paths/shared/words/\n",
    )
    produced = run_cli("run", "produce.yml", "-o", "json")
    assert produced.exit_code == 0, produced.stdout
    assert (root / "data" / "words" / "words.txt").read_text() == "written upstream\n"
