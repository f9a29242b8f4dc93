"""The rendered Azure DevOps pipelines: valid for Azure Pipelines, loud on failure, gated."""

from __future__ import annotations

import os
import subprocess
import sys
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
    # @1: the version the vendored Azure Pipelines schema accepts (it defines no @2 step)
    coverage = published["PublishCodeCoverageResults@1"]
    assert coverage["inputs"] == {
        "codeCoverageTool": "Cobertura",
        "summaryFileLocation": "coverage.xml",
        "failIfCoverageEmpty": True,
    }
    assert coverage["condition"] == "succeededOrFailed()"
    assert ci["steps"][0] == {"template": "templates/setup.yml"}


def _job(pipeline: dict, name: str) -> dict:
    [job] = [j for j in pipeline["jobs"] if j.get("job") == name]
    return job


def _azure_steps(steps: list[dict]) -> list[dict]:
    return [s["parameters"] for s in steps if s.get("template") == "templates/azure.yml"]


def test_continuous_training_trains_as_training_and_promotes_as_the_promotion_identity(
    tmp_path: Path,
) -> None:
    ct = _documents(tmp_path)["ct.yml"]
    assert ct["trigger"]["branches"]["include"] == ["main"]
    assert ct["trigger"]["batch"] is True  # pushes during a run wait for one next run
    assert "src" in ct["trigger"]["paths"]["include"]
    assert all(schedule["always"] for schedule in ct["schedules"])
    assert ct["pool"] == {"name": "mdp-contoso-churn-dev"}
    job = _job(ct, "train")
    train, promote = _azure_steps(job["steps"])
    assert train["serviceConnection"] == "contoso-churn-dev"
    assert "mlops run --env dev" in train["script"]
    assert "mlops promote" not in train["script"]
    assert promote["serviceConnection"] == "contoso-churn-promotion"
    assert promote["condition"] == "and(succeeded(), eq(variables['promotable'], 'true'))"
    assert "--to test" in promote["script"]
    assert job["steps"][-1]["inputs"]["artifact"] == "ct"


def test_ct_tags_the_run_promoted_only_after_the_model_reached_the_registry(
    tmp_path: Path,
) -> None:
    job = _job(_documents(tmp_path)["ct.yml"], "train")
    train, promote = _azure_steps(job["steps"])
    lines = promote["script"].splitlines()
    assert lines[0].startswith("mlops promote")
    assert lines[-1] == 'echo "##vso[build.addbuildtag]promoted"'  # after, under set -e
    assert "addbuildtag]promoted" not in train["script"]


def test_a_gate_rejection_is_a_warning_and_a_tag_on_the_ct_run(tmp_path: Path) -> None:
    job = _job(_documents(tmp_path)["ct.yml"], "train")
    train, _ = _azure_steps(job["steps"])
    rejected = train["script"].split("else\n", 1)[1]
    assert "##vso[task.logissue type=warning]the gate did not promote a model" in rejected
    assert '"##vso[build.addbuildtag]not-promoted"' in rejected
    assert "exit" not in rejected  # not promoted is a successful outcome, recorded


def _fires(trigger: dict, branch: str, tags: set[str]) -> bool:
    """Whether a completed run of the source pipeline starts this one, as the pipeline
    resource trigger is documented: a branch include/exclude filter (full ref names match;
    a short name matches refs/heads/<name>), and every listed tag on the run (tags are ANDed)."""
    import fnmatch

    def matches(patterns: list[str]) -> bool:
        names = {branch, branch.removeprefix("refs/heads/")}
        return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names)

    branches = trigger.get("branches", {})
    if not matches(branches.get("include", ["*"])) or matches(branches.get("exclude", [])):
        return False
    return set(trigger.get("tags", [])) <= tags


def test_cd_fires_only_on_a_promoted_ct_run_of_the_default_branch(tmp_path: Path) -> None:
    cd = _documents(tmp_path)["cd.yml"]
    assert cd["trigger"] == "none" and cd["pr"] == "none"
    [resource] = cd["resources"]["pipelines"]
    assert resource["source"] == "churn-ct"
    trigger = resource["trigger"]

    assert _fires(trigger, "refs/heads/main", {"promoted"})
    assert not _fires(trigger, "refs/heads/main", {"not-promoted"})
    assert not _fires(trigger, "refs/heads/main", set())
    assert not _fires(trigger, "refs/heads/feature/new-model", {"promoted"})
    # a manual run picks the latest promoted run of the default branch by default...
    assert resource["branch"] == "refs/heads/main" and resource["tags"] == ["promoted"]
    # ...and every stage refuses a model whose CT run came from elsewhere
    for stage in cd["stages"]:
        assert (
            "eq(variables['resources.pipeline.ct.sourceBranch'], 'refs/heads/main')"
            in (stage["condition"])
        ), stage["stage"]


def test_cd_smoke_tests_the_promoted_model_itself_then_deploys_each_environment_gated(
    tmp_path: Path,
) -> None:
    cd = _documents(tmp_path)["cd.yml"]
    assert cd["lockBehavior"] == "sequential"  # the environments' exclusive locks queue runs
    stages = {s["stage"]: s for s in cd["stages"]}
    assert list(stages) == ["local", "test", "prod"]
    local = stages["local"]["jobs"][0]["steps"]
    assert local[0] == {"download": "ct", "artifact": "ct"}
    smoke = local[-1]["script"]
    assert "mlops run" not in smoke and "mlops up" not in smoke  # no retraining
    assert "$(Pipeline.Workspace)/ct/ct/model" in smoke and "mlops smoke" in smoke
    for env, previous in (("test", "local"), ("prod", "test")):
        stage = stages[env]
        assert stage["dependsOn"] == previous
        assert stage["pool"] == {"name": f"mdp-contoso-churn-{env}"}
        [job] = stage["jobs"]
        assert job["environment"] == env  # its Approval, Branch-control and lock checks gate it
        steps = job["strategy"]["runOnce"]["deploy"]["steps"]
        [azure] = _azure_steps(steps)
        assert azure["serviceConnection"] == f"contoso-churn-{env}"  # its deployment identity
        assert f"mlops deploy --env {env} --model" in azure["script"]
        assert "exit 0" not in azure["script"]


def test_every_pipeline_installs_through_a_pip_cache_kept_between_runs(tmp_path: Path) -> None:
    setup = _documents(tmp_path)["templates/setup.yml"]
    cache, install = setup["steps"][2:]
    assert cache["task"] == "Cache@2"
    # a new key when pyproject.toml (the dependencies) or the OS or Python changes
    assert cache["inputs"]["key"].endswith("| pyproject.toml")
    assert cache["inputs"]["key"].startswith(cache["inputs"]["restoreKeys"])
    assert install["env"]["PIP_CACHE_DIR"] == cache["inputs"]["path"]
    assert 'pip install -e ".[dev]"' in install["script"]


def test_signed_in_steps_keep_their_sign_in_through_long_jobs(tmp_path: Path) -> None:
    template = _documents(tmp_path)["templates/azure.yml"]
    [step] = template["steps"]
    assert step["task"] == "AzureCLI@2"
    assert step["inputs"]["keepAzSessionActive"] is True
    assert step["env"] == {"SYSTEM_ACCESSTOKEN": "$(System.AccessToken)"}


def test_infra_plans_everywhere_and_provisions_the_reviewed_plan_through_platform(
    tmp_path: Path,
) -> None:
    infra = _documents(tmp_path)["infra.yml"]
    assert infra["trigger"]["batch"] is True
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


def _ci_scripts(tmp_path: Path, devops: str = "") -> dict[str, str]:
    """ci.yml's scripts by display name, for the vnet project with `devops` added to its
    devops section (checked against the Azure Pipelines schema)."""
    from tests.infra.conftest import copy_config

    path = copy_config("vnet", tmp_path / "project")
    path.write_text(path.read_text().replace("devops:\n", f"devops:\n{devops}", 1))
    files = _rendered(path, tmp_path / "out")
    assert problems(files["ci.yml"]) == []
    ci = yaml.safe_load(files["ci.yml"].read_text())
    return {s["displayName"]: s["script"] for s in ci["steps"] if "script" in s}


def _run(script: str, folder: Path, stubs: str = "") -> subprocess.CompletedProcess[str]:
    """A rendered script run by bash in `folder`, `python` being this interpreter and the
    commands in `stubs` (bash functions) standing in for the tools."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        ["bash", "-c", stubs + script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _checkout(tmp_path: Path, pyproject: str, folders: tuple[str, ...]) -> Path:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "pyproject.toml").write_text(pyproject)
    for folder in folders:
        (checkout / folder).mkdir(parents=True)
    return checkout


#: pytest and bandit print the arguments they were given; `python -m pip` installs nothing
_STUBS = """
pytest() { printf '%s\\n' "$@"; }
bandit() { printf '%s\\n' "$@"; }
pip-audit() { echo "pip-audit $*"; }
python() { if [ "$1" = -m ]; then return 0; fi; command python "$@"; }
"""


def _pytest_arguments(tmp_path: Path, checkout: Path, devops: str = "") -> list[str]:
    done = _run(_ci_scripts(tmp_path, devops)["Tests"], checkout, _STUBS)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.startswith("--")]


def test_ci_measures_the_platform_code_and_src_in_this_repository(tmp_path: Path) -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    checkout = _checkout(tmp_path, pyproject, ("src/diagnosis", "mlops", "tests"))

    assert _pytest_arguments(tmp_path, checkout, "  coverage_fail_under: 85\n") == [
        "--junitxml=test-results.xml",
        "--cov=mlops",
        "--cov=src",
        "--cov-report=xml:coverage.xml",
        "--cov-fail-under=85",
    ]


def test_ci_measures_src_in_a_generated_project(tmp_path: Path) -> None:
    """A generated project has no mlops/: its mlops comes from its dependencies."""
    from mlops.services.new_project import _pyproject

    checkout = _checkout(tmp_path, _pyproject("churn"), ("src/diagnosis", "tests"))
    measured = [a for a in _pytest_arguments(tmp_path, checkout) if a.startswith("--cov=")]

    assert measured == ["--cov=src"]


def test_ci_fails_when_pyproject_names_no_code(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path, '[project]\nname = "x"\n', ("src",))

    done = _run(_ci_scripts(tmp_path)["Tests"], checkout, _STUBS)

    assert done.returncode != 0 and "names no code folder" in done.stderr
    assert "--junitxml" not in done.stdout  # pytest never ran


@pytest.mark.parametrize(("severity", "flag"), [("low", "-l"), ("medium", "-ll"), ("high", "-lll")])
def test_mlops_yaml_severity_is_bandit_level_and_pip_audit_fails_on_any_finding(
    tmp_path: Path, severity: str, flag: str
) -> None:
    security = _ci_scripts(tmp_path, f"  security: {{severity: {severity}}}\n")[
        "Security: dependencies and static analysis"
    ]
    checkout = _checkout(tmp_path, (REPO / "pyproject.toml").read_text(), ("src", "mlops"))

    done = _run(security, checkout, _STUBS)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # pip-audit has no severity filter (pypa/pip-audit#654): it runs with none
    assert "pip-audit " in lines
    assert lines[lines.index("-r") :] == ["-r", "mlops", "src", flag]


def test_without_a_threshold_coverage_is_published_not_enforced(tmp_path: Path) -> None:
    ci = _documents(tmp_path)["ci.yml"]
    scripts = " ".join(s.get("script", "") for s in ci["steps"])
    assert "--cov-fail-under" not in scripts and "bandit" not in scripts


def test_ct_checks_why_it_trains_before_training_and_records_it(tmp_path: Path) -> None:
    """A daily check schedule besides the weekly retraining; a first job asks `mlops
    retrain-reason` as the training identity and tags the run trigger-REASON (or no-retrain);
    the train job runs only when it said so, with the reason for the Azure ML job's tag."""
    ct = _documents(tmp_path)["ct.yml"]
    crons = {s["displayName"]: s["cron"] for s in ct["schedules"]}
    assert crons == {
        "Weekly retraining on current data": "0 2 * * 1",
        "Daily check for new data and drift": "0 3 * * 0,2-6",
    }
    check, train = ct["jobs"]
    [decide] = [s for s in check["steps"] if s.get("name") == "decide"]
    script = decide["inputs"]["inlineScript"]
    assert decide["inputs"]["azureSubscription"] == "contoso-churn-dev"
    assert "mlops retrain-reason --env dev --output json" in script
    assert '"##vso[build.addbuildtag]trigger-$trigger"' in script
    assert '"##vso[build.addbuildtag]no-retrain"' in script
    assert train["dependsOn"] == "check"
    assert train["condition"] == (
        "and(succeeded(), eq(dependencies.check.outputs['decide.retrain'], 'true'))"
    )
    assert {
        "name": "MLOPS_TRIGGER",
        "value": "$[ dependencies.check.outputs['decide.trigger'] ]",
    } in (train["variables"])


def test_off_hours_renders_a_pipeline_that_sleeps_and_wakes_each_listed_endpoint(
    tmp_path: Path,
) -> None:
    """Off by default; with cost.off_hours, endpoints.yml (valid for Azure Pipelines) sleeps
    the listed endpoints at the end of working hours and wakes them at the start, on working
    days (UTC), signed in through a connection without the Approval check."""
    assert "endpoints.yml" not in _rendered(PROJECTS["repository"], tmp_path / "plain")
    config = tmp_path / "mlops.yaml"
    config.write_text(
        (REPO / "mlops.yaml").read_text(encoding="utf-8")
        + "\ncost:\n  off_hours:\n    environments: [test]\n    days: [mon, tue, wed, thu]\n"
        "    start: '06:30'\n    end: '18:00'\n",
        encoding="utf-8",
    )
    files = _rendered(config, tmp_path / "off")
    assert problems(files["endpoints.yml"]) == []
    document = yaml.safe_load(files["endpoints.yml"].read_text())

    crons = {s["displayName"]: s["cron"] for s in document["schedules"]}
    assert crons == {
        "Endpoints asleep after working hours": "0 18 * * 1,2,3,4",
        "Endpoints awake for working hours": "30 6 * * 1,2,3,4",
    }
    [job] = document["jobs"]
    [step] = _azure_steps(job["steps"])
    assert step["serviceConnection"] == "mlops-diagnosis-test-off-hours"
    assert step["script"].endswith('mlops cost "$action" --env test\n')
    assert "Endpoints awake for working hours" in step["script"]
    assert job["pool"] == {"name": "mdp-mlops-diagnosis-test"}
