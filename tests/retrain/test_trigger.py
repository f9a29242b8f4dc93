"""Contract: a new version of the training data asset makes the rendered CT trigger fire, on
Azure (the real SDK against the Azure ML fake) and locally (the data file and the local
registry), decided by one rule on both backends."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from mlops.render import pipelines
from mlops.services import azure_ml
from tests.aml.aml_fake import AmlFake
from tests.aml.conftest import SUB
from tests.aml.signed_in import az_env, default_transport_to
from tests.conftest import run_cli
from tests.retrain.conftest import condition_fires, run_step_script

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DATA_URI = "azureml://datastores/workspaceblobstore/paths/data/breast_cancer{}.csv"


def _check_and_train(config: LoadedConfig) -> tuple[dict, dict, dict]:
    """CT as rendered: its `decide` step, its train job, and its schedules by name."""
    ct = pipelines.ct(config.config)
    jobs = {job["job"]: job for job in ct["jobs"]}
    [step] = [s for s in jobs["check"]["steps"] if s.get("name") == pipelines.DECIDE_STEP]
    schedules = {s["displayName"]: s for s in ct["schedules"]}
    return step, jobs["train"], schedules


def _mlops_args(step: dict) -> str:
    """The arguments the rendered script gives `mlops`."""
    script = step["inputs"]["inlineScript"]
    return re.search(r"^mlops (retrain-reason [^>]*?) >", script, re.MULTILINE)[1]


def _run_check(step: dict, answer: str, folder: Path) -> dict:
    return run_step_script(step["inputs"]["inlineScript"], answer, _mlops_args(step), folder)


def _scheduled_check(schedules: dict) -> dict[str, str]:
    """What Azure DevOps exports to a run of the daily check schedule."""
    [check] = [s for s in schedules.values() if s["cron"] == pipelines.CHECK_CRON]
    return {"BUILD_REASON": "Schedule", "BUILD_CRONSCHEDULE_DISPLAYNAME": check["displayName"]}


def _decide_on_azure(aml: AmlFake, step: dict, env: dict[str, str], folder: Path) -> str:
    """`mlops ARGS` exactly as the rendered step calls it, signed in, against the fake."""
    with default_transport_to(aml):
        result = run_cli(*shlex.split(_mlops_args(step)), env={**az_env(folder), **env})
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def test_a_new_data_asset_version_makes_the_rendered_trigger_fire_on_azure(
    azure_project: LoadedConfig,
    aml: AmlFake,
    clients: AzureClients,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from azure.ai.ml.entities import Data

    monkeypatch.chdir(azure_project.root)
    aml.seed_data("breast-cancer", "1", DATA_URI.format(""))
    aml.seed_model(
        "diagnosis", "1", gate_decision="promoted", forced="false", dataset_version="24e220f0"
    )
    step, train, schedules = _check_and_train(azure_project)
    env = _scheduled_check(schedules)

    quiet = _run_check(step, _decide_on_azure(aml, step, env, tmp_path), tmp_path)
    assert quiet["tags"] == [pipelines.NO_RETRAIN_TAG]
    assert not condition_fires(train["condition"], pipelines.DECIDE_STEP, quiet["outputs"])

    # a new version, registered as `az ml data create` registers it: through the SDK
    ml = clients.ml(SUB, "rg-mlops-diagnosis-dev", "mlw-mlops-diagnosis-dev")
    ml.data.create_or_update(
        Data(name="breast-cancer", version="2", type="uri_file", path=DATA_URI.format("-2"))
    )
    fired = _run_check(step, _decide_on_azure(aml, step, env, tmp_path), tmp_path)

    assert fired["tags"] == ["trigger-data"]
    assert condition_fires(train["condition"], pipelines.DECIDE_STEP, fired["outputs"])
    assert fired["outputs"]["trigger"] == "data"
    assert fired["outputs"]["set"] == "inputs.data=azureml:breast-cancer:2"
    # the train job hands both to `mlops run`: the reason and the version to train on
    variables = {v["name"]: v["value"] for v in train["variables"]}
    assert variables["MLOPS_TRIGGER"] == "$[ dependencies.check.outputs['decide.trigger'] ]"
    assert variables["MLOPS_RETRAIN_SET"] == "$[ dependencies.check.outputs['decide.set'] ]"
    assert '${MLOPS_RETRAIN_SET:+--set "$MLOPS_RETRAIN_SET"}' in str(train["steps"])
    submitted = azure_ml.run(
        azure_project, "dev", None, {"data": "azureml:breast-cancer:2"}, clients, wait=False
    )
    [job] = [w for w in aml.writes() if w.path.endswith(f"/jobs/{submitted.job.name}")]
    # the SDK resolves azureml:NAME:VERSION to the version's ARM id
    assert job.body["properties"]["inputs"]["data"]["uri"].endswith(
        "/data/breast-cancer/versions/2"
    )
    assert job.body["properties"]["tags"]["dataset_version"] == "2"


def test_push_and_the_weekly_schedule_train_whatever_the_data(
    azure_project: LoadedConfig, aml: AmlFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(azure_project.root)
    aml.seed_data("breast-cancer", "1", DATA_URI.format(""))
    aml.seed_model("diagnosis", "1", gate_decision="promoted", forced="false")
    step, train, schedules = _check_and_train(azure_project)
    weekly = {
        "BUILD_REASON": "Schedule",
        "BUILD_CRONSCHEDULE_DISPLAYNAME": schedules[pipelines.RETRAIN_SCHEDULE]["displayName"],
    }

    for env, tag in (
        ({"BUILD_REASON": "IndividualCI"}, "trigger-push"),
        (weekly, "trigger-schedule"),
    ):
        ran = _run_check(step, _decide_on_azure(aml, step, env, tmp_path), tmp_path)
        assert ran["tags"] == [tag]
        assert condition_fires(train["condition"], pipelines.DECIDE_STEP, ran["outputs"])
        # trained on the newest version, as the check found it
        assert ran["outputs"]["set"] == "inputs.data=azureml:breast-cancer:1"


@pytest.fixture
def local_project(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained project (its registry too), for one test to change."""
    return Path(shutil.copytree(trained, tmp_path / "demo", symlinks=True))


def _decide_locally(root: Path, env: dict[str, str], *extra: str) -> dict:
    result = run_cli(
        "-c", str(root / "mlops.yaml"), "retrain-reason", "-o", "json", *extra, env=env
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.json()


def test_a_changed_local_data_file_makes_the_rendered_trigger_fire_locally(
    local_project: Path, tmp_path: Path
) -> None:
    step, train, schedules = _check_and_train(load_config(local_project / "mlops.yaml"))
    env = _scheduled_check(schedules)
    quiet = _decide_locally(local_project, env)
    assert (quiet["retrain"], quiet["champion"]["version"]) == (False, "1")
    assert quiet["data"]["version"] == quiet["champion"]["dataset_version"]

    data = local_project / "data" / "breast_cancer.csv"
    header, *rows = data.read_text(encoding="utf-8").splitlines(keepends=True)
    data.write_text(header + "".join(reversed(rows)), encoding="utf-8")  # new bytes, same rows
    decision = _decide_locally(local_project, env)
    fired = _run_check(step, json.dumps(decision), tmp_path)

    assert decision["trigger"] == "data" and decision["set"] == []  # locally: the file itself
    assert fired["tags"] == ["trigger-data"]
    assert condition_fires(train["condition"], pipelines.DECIDE_STEP, fired["outputs"])


def test_one_rule_on_both_backends_drift_newer_than_the_champion_trains(
    local_project: Path,
    azure_project: LoadedConfig,
    aml: AmlFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = tmp_path / "monitor.json"
    report.write_text(json.dumps({"signals": [{"feature": "mean_radius", "breached": True}]}))
    calm = tmp_path / "calm.json"
    calm.write_text(json.dumps({"signals": [{"feature": "mean_radius", "breached": False}]}))
    aml.seed_data("breast-cancer", "1", DATA_URI.format(""))
    aml.seed_model("diagnosis", "1", gate_decision="promoted", forced="false")
    env = {"BUILD_REASON": "Schedule", "BUILD_CRONSCHEDULE_DISPLAYNAME": pipelines.CHECK_SCHEDULE}

    decisions = {}
    for name, path in (("drift", report), ("calm", calm)):
        local = _decide_locally(local_project, env, "--monitor-report", str(path))
        monkeypatch.chdir(azure_project.root)
        with default_transport_to(aml):
            result = run_cli(
                "retrain-reason",
                "--env",
                "dev",
                "-o",
                "json",
                "--monitor-report",
                str(path),
                env={**az_env(tmp_path), **env},
            )
        assert result.exit_code == 0, result.stderr
        decisions[name] = (local["trigger"], result.json()["trigger"])

    assert decisions == {"drift": ("drift", "drift"), "calm": ("none", "none")}


def test_an_unreadable_monitor_report_is_bad_input(local_project: Path, tmp_path: Path) -> None:
    broken = tmp_path / "report.json"
    broken.write_text("<html>")
    result = run_cli(
        "-c", str(local_project / "mlops.yaml"), "retrain-reason", "--monitor-report", str(broken)
    )
    assert result.exit_code == 2
    assert "--monitor-report" in result.stderr and "not a readable JSON report" in result.stderr
