"""The rendered Azure DevOps pipelines: valid for Azure Pipelines, loud on failure, gated."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlops.config.loader import load_config
from mlops.render.files import render
from tests.devops.ado_schema import problems

REPO = Path(__file__).parents[2]
CONFIGS = REPO / "tests" / "infra" / "configs"
PROJECTS = {
    "repository": REPO / "mlops.yaml",
    **{name: CONFIGS / f"{name}.yaml" for name in ("managed", "vnet", "kubernetes")},
}


def _rendered(config_path: Path, folder: Path) -> dict[str, Path]:
    """The .azuredevops files of a config, written under `folder`."""
    out = {}
    for f in render(load_config(config_path).config):
        if f.path.startswith(".azuredevops/"):
            target = folder / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.text, encoding="utf-8")
            out[f.path.removeprefix(".azuredevops/")] = target
    return out


@pytest.mark.parametrize("project", sorted(PROJECTS))
def test_every_rendered_pipeline_passes_the_azure_pipelines_schema(
    project: str, tmp_path: Path
) -> None:
    files = _rendered(PROJECTS[project], tmp_path)

    assert set(files) == {
        "ci.yml",
        "ct.yml",
        "cd.yml",
        "infra.yml",
        "templates/setup.yml",
        "templates/azure.yml",
    }
    for name, path in files.items():
        assert problems(path) == [], name


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (lambda d: d.update(tigger=d.pop("trigger")), "tigger"),
        (
            lambda d: d["steps"].append({"task": "PublishTestResults@2", "inputs": {"nope": "x"}}),
            "nope",
        ),
        (lambda d: d["steps"].append({"scrip": "ruff check ."}), "scrip"),
    ],
)
def test_a_broken_pipeline_fails_the_schema(tmp_path: Path, mistake, expected: str) -> None:
    ci = _rendered(PROJECTS["repository"], tmp_path)["ci.yml"]
    document = yaml.safe_load(ci.read_text())
    mistake(document)
    ci.write_text(yaml.safe_dump(document, sort_keys=False))

    found = problems(ci)

    assert found and any(expected in p for p in found), found


def _documents(tmp_path: Path, project: str = "vnet") -> dict[str, dict]:
    files = _rendered(PROJECTS[project], tmp_path)
    return {name: yaml.safe_load(path.read_text()) for name, path in files.items()}


def _walk(node):
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_nothing_fails_silently(tmp_path: Path) -> None:
    for name, document in _documents(tmp_path).items():
        nodes = [n for n in _walk(document) if isinstance(n, dict)]
        assert not any("continueOnError" in n for n in nodes), name
        # script steps, and the Azure template that wraps every signed-in script
        scripts = [n["script"] for n in nodes if "script" in n and "serviceConnection" not in n]
        scripts += [n["inlineScript"] for n in nodes if "inlineScript" in n]
        for script in scripts:
            assert script.startswith("set -euo pipefail\n"), (name, script)
        text = yaml.safe_dump(document)
        assert "--exit-zero" not in text and "|| true" not in text, name


def test_ci_lints_tests_with_published_results_checks_rendered_files_and_trains_locally(
    tmp_path: Path,
) -> None:
    ci = _documents(tmp_path)["ci.yml"]
    scripts = " ".join(s.get("script", "") for s in ci["steps"])
    for command in (
        "ruff check .",
        "ruff format --check .",
        "pytest --junitxml",
        "--cov",
        "mlops render --check",
        "mlops validate",
        "mlops run --env local",
    ):
        assert command in scripts, command
    published = {s["task"]: s for s in ci["steps"] if "task" in s}
    assert published["PublishTestResults@2"]["condition"] == "succeededOrFailed()"
    assert published["PublishTestResults@2"]["inputs"]["failTaskOnFailedTests"] is True
    assert "PublishCodeCoverageResults@1" in published
    assert ci["steps"][0] == {"template": "templates/setup.yml"}


def test_continuous_training_runs_in_dev_through_its_own_service_connection(
    tmp_path: Path,
) -> None:
    ct = _documents(tmp_path)["ct.yml"]
    assert ct["trigger"]["branches"]["include"] == ["main"]
    assert "src" in ct["trigger"]["paths"]["include"]
    assert ct["schedules"][0]["always"] is True
    assert ct["pool"] == {"name": "mdp-contoso-churn-dev"}
    [job] = ct["jobs"]
    azure = next(s for s in job["steps"] if s.get("template") == "templates/azure.yml")
    assert azure["parameters"]["serviceConnection"] == "contoso-churn-dev"
    assert "mlops run --env dev" in azure["parameters"]["script"]
    assert 'mlops promote "$model" --to test' in azure["parameters"]["script"]
    assert job["steps"][-1]["inputs"]["artifact"] == "ct"


def test_cd_follows_ct_and_deploys_each_environment_in_a_gated_deployment_job(
    tmp_path: Path,
) -> None:
    cd = _documents(tmp_path)["cd.yml"]
    assert cd["trigger"] == "none"
    assert cd["resources"]["pipelines"][0] == {
        "pipeline": "ct",
        "source": "churn-ct",
        "trigger": {"branches": {"include": ["main"]}},
    }
    stages = {s["stage"]: s for s in cd["stages"]}
    assert list(stages) == ["local", "test", "prod"]
    assert "mlops up" in stages["local"]["jobs"][0]["steps"][1]["script"]
    for env, previous in (("test", "local"), ("prod", "test")):
        stage = stages[env]
        assert stage["dependsOn"] == previous
        assert stage["pool"] == {"name": f"mdp-contoso-churn-{env}"}
        [job] = stage["jobs"]
        assert job["environment"] == env  # its Approval and Branch-control checks gate it
        steps = job["strategy"]["runOnce"]["deploy"]["steps"]
        azure = next(s for s in steps if s.get("template") == "templates/azure.yml")
        assert azure["parameters"]["serviceConnection"] == f"contoso-churn-{env}"
        assert f"mlops deploy --env {env} --model" in azure["parameters"]["script"]


def test_infra_plans_everywhere_and_provisions_the_reviewed_plan_through_platform(
    tmp_path: Path,
) -> None:
    infra = _documents(tmp_path)["infra.yml"]
    plan, provision = infra["stages"]
    plan_script = plan["jobs"][0]["steps"][1]["parameters"]["script"]
    assert "mlops plan --out" in plan_script and "task.uploadsummary" in plan_script
    assert "refs/heads/main" in provision["condition"]
    [job] = provision["jobs"]
    assert job["environment"] == "platform"
    steps = job["strategy"]["runOnce"]["deploy"]["steps"]
    assert "mlops provision --plan" in steps[-1]["parameters"]["script"]
    assert steps[-1]["parameters"]["serviceConnection"] == "contoso-churn-platform"


def test_render_check_names_a_hand_edited_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import run_cli
    from tests.infra.conftest import copy_config

    copy_config("vnet", tmp_path)
    monkeypatch.chdir(tmp_path)
    assert run_cli("render").exit_code == 0
    ci = tmp_path / ".azuredevops" / "ci.yml"
    ci.write_text(ci.read_text() + "# edited by hand\n")
    (tmp_path / ".azuredevops" / "team.yml").write_text("steps: []\n")  # the team's own

    result = run_cli("render", "--check")

    assert result.exit_code == 1
    assert ".azuredevops/ci.yml" in result.stderr + result.stdout
    assert "team.yml" not in result.stderr + result.stdout
