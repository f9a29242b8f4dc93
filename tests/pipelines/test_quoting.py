"""Every value mlops puts into a step's command reaches it as one argument, as it is: never as
shell syntax, wherever the project lives and whatever a branch or a --set value contains."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops.pipeline.expressions import render
from tests.conftest import run_cli
from tests.pipelines.conftest import FIXTURES

HOSTILE = 'it\'s a "dir" $(touch PWNED) `touch PWNED` ü'
PAYLOAD = "x$(touch PWNED)`touch PWNED`; touch PWNED | \"q\" 'q' \\ $HOME *"


@pytest.fixture
def hostile_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_mlflow_db: Path):
    """The chain pipeline in a folder whose path has spaces, quotes, $() and non-ASCII."""
    root = tmp_path / HOSTILE / "project"
    shutil.copytree(FIXTURES / "chain", root)
    (root / "mlops.yaml").write_text("project: {name: suite}\n")
    (root / ".mlops").mkdir()
    shutil.copy(empty_mlflow_db, root / ".mlops" / "mlflow.db")
    monkeypatch.chdir(root)
    return root


def no_payload_ran(root: Path) -> bool:
    return not any(root.parent.parent.rglob("PWNED")) and not Path("PWNED").exists()


def test_the_runner_works_in_a_folder_with_spaces_quotes_and_non_ascii(hostile_project):
    result = run_cli("run", "pipeline.yml", "-o", "json")
    assert result.exit_code == 0, result.stderr
    steps = {s["step"]: s for s in result.json()["steps"]}
    final = Path(steps["third"]["outputs"]["result"])
    # every step read its input folder and wrote its output folder through such paths
    assert (final / "text.txt").read_text().splitlines() == ["start", "first", "second!"]
    assert json.loads((final / "report.json").read_text())["cwd"] == str(hostile_project / "report")
    assert no_payload_ran(hostile_project)


def test_a_set_value_reaches_the_step_verbatim_and_executes_nothing(hostile_project):
    result = run_cli("run", "pipeline.yml", "--set", f"inputs.text={PAYLOAD}", "-o", "json")
    assert result.exit_code == 0, result.stderr
    steps = {s["step"]: s for s in result.json()["steps"]}
    report = json.loads((Path(steps["third"]["outputs"]["result"]) / "report.json").read_text())
    assert report["text"] == PAYLOAD  # inside "..." in the command: still verbatim
    assert no_payload_ran(hostile_project)


def test_a_branch_name_with_a_payload_is_recorded_verbatim_and_executes_nothing(
    pipeline_project, tmp_path
):
    root = pipeline_project("chain")
    (root / "branch.yml").write_text(
        "type: pipeline\n"
        "inputs:\n"
        "  git_branch: unknown\n"
        "jobs:\n"
        "  record:\n"
        "    type: command\n"
        "    command: printf '%s' ${{inputs.branch}} > ${{outputs.out}}/branch.txt\n"
        "    inputs:\n"
        "      branch: ${{parent.inputs.git_branch}}\n"
        "    outputs:\n"
        "      out:\n"
        "        type: uri_folder\n"
        "    environment: azureml:x@latest\n"
    )
    branch = f"x$(touch {tmp_path}/PWNED)`touch {tmp_path}/PWNED`"
    result = run_cli(
        "run", "branch.yml", "-o", "json", env={"BUILD_SOURCEBRANCH": f"refs/heads/{branch}"}
    )
    assert result.exit_code == 0, result.stderr
    [step] = result.json()["steps"]
    assert (Path(step["outputs"]["out"]) / "branch.txt").read_text() == branch
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    ("template", "shell_sees"),
    [
        ("echo ${{inputs.v}}", "bare"),
        ('echo "${{inputs.v}}"', "double quotes"),
        ("echo '${{inputs.v}}'", "single quotes"),
        ("echo --v=${{inputs.v}}", "inside a word"),
    ],
)
def test_a_value_is_one_verbatim_argument_wherever_the_binding_sits(template, shell_sees):
    import subprocess

    command = render(template, {("inputs", "v"): PAYLOAD}.get)
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd="/tmp")
    expected = f"--v={PAYLOAD}" if "--v=" in template else PAYLOAD
    assert done.stdout == expected + "\n", shell_sees
    assert not Path("/tmp/PWNED").exists()


def test_an_absent_optional_value_leaves_nothing_as_in_azure_ml():
    assert render("run $[[--x ${{inputs.x}}]] done", {}.get) == "run  done"


def test_a_set_value_that_is_not_utf8_is_refused_before_anything_runs(pipeline_project):
    root = pipeline_project("chain")
    result = run_cli("run", "pipeline.yml", "--set", "inputs.text=\udcff\udcfe bad")  # raw bytes
    assert result.exit_code == 2
    assert "not valid UTF-8" in result.stderr
    assert not (root / ".mlops" / "runs").exists()


def test_a_branch_name_that_is_not_utf8_is_recorded_with_replacement_characters(tmp_path):
    from mlops.services.lineage import build_lineage

    lineage = build_lineage(tmp_path, {"BUILD_SOURCEBRANCH": "refs/heads/x\udcff"})
    assert lineage["git_branch"] == "x\ufffd"
