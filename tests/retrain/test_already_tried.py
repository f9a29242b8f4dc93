"""Contract: a data version the gate already turned down is not trained on again every day.

CT's daily check trains on a new data version once; when the gate keeps the champion, the
completed run's data tags record the version as tried and the next checks say
`already-tried`, by one rule on Azure (the job's tags, through the real SDK against the Azure
ML fake) and locally (the MLflow run's tags)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from diagnosis.evaluate import Decision, run_tags
from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from mlops.render import pipelines
from mlops.services import azure_ml, retrain
from mlops.services.retrain import ALREADY_TRIED, ChampionEvidence, DataEvidence, decide
from tests.aml.aml_fake import AmlFake
from tests.retrain.conftest import run_step_script

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CHECK = pipelines.CHECK_SCHEDULE
DATA_URI = "azureml://datastores/workspaceblobstore/paths/data/breast_cancer{}.csv"
CHAMPION = ChampionEvidence("diagnosis", "3", created_ms=2_000, dataset_version="abc")
NEW_DATA = DataEvidence("breast-cancer", "2", created_ms=3_000)


def test_a_new_version_already_tried_does_not_train_and_says_so() -> None:
    fresh = decide("Schedule", CHECK, NEW_DATA, CHAMPION, None, frozenset({"1"}))
    tried = decide("Schedule", CHECK, NEW_DATA, CHAMPION, None, frozenset({"2"}))

    assert (fresh.retrain, fresh.trigger, fresh.skip) == (True, "data", None)
    assert (tried.retrain, tried.trigger, tried.skip) == (False, None, ALREADY_TRIED)
    assert tried.reason.startswith("already-tried: ") and "version 2" in tried.reason
    # a push and the weekly schedule still train on it: code may have changed
    assert decide("IndividualCI", "", NEW_DATA, CHAMPION, None, frozenset({"2"})).retrain
    weekly = decide(
        "Schedule", pipelines.RETRAIN_SCHEDULE, NEW_DATA, CHAMPION, None, frozenset({"2"})
    )
    assert weekly.retrain


def test_only_completed_runs_on_the_same_asset_count_as_tried() -> None:
    runs = [
        ("Completed", {"dataset_name": "breast-cancer", "dataset_version": "2"}),
        ("Failed", {"dataset_name": "breast-cancer", "dataset_version": "3"}),  # try again
        ("Completed", {"dataset_name": "other", "dataset_version": "4"}),
        ("Completed", {"trigger": "push"}),
    ]
    assert retrain.tried_versions(runs, "breast-cancer") == {"2"}


def test_the_check_step_tags_the_build_already_tried(tmp_path: Path) -> None:
    config = load_config(Path(__file__).parents[2] / "mlops.yaml").config
    [step] = [
        s
        for job in pipelines.ct(config)["jobs"]
        for s in job["steps"]
        if s.get("name") == pipelines.DECIDE_STEP
    ]
    answer = decide("Schedule", CHECK, NEW_DATA, CHAMPION, None, frozenset({"2"})).to_dict()
    args = "retrain-reason --env dev --output json"
    ran = run_step_script(step["inputs"]["inlineScript"], json.dumps(answer), args, tmp_path)
    assert ran["tags"] == [pipelines.NO_RETRAIN_TAG, ALREADY_TRIED]
    assert ran["outputs"]["retrain"] == "false"


def test_on_azure_a_rejected_run_on_a_version_makes_the_next_check_skip_it(
    azure_project: LoadedConfig,
    aml: AmlFake,
    clients: AzureClients,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(azure_project.root)
    aml.seed_model("diagnosis", "1", gate_decision="promoted", forced="false")
    aml.seed_data("breast-cancer", "1", DATA_URI.format(""))
    aml.seed_data("breast-cancer", "2", DATA_URI.format("-2"))
    aml.seed_job("old-failed-run", "Failed", dataset_name="breast-cancer", dataset_version="2")
    check = {"build_reason": "Schedule", "schedule": CHECK}

    first = retrain.decide_for(azure_project, "dev", clients=clients, **check)
    assert (first["trigger"], first["set"]) == ("data", ["inputs.data=azureml:breast-cancer:2"])

    # CT's train job: `mlops run` with the check's trigger and version; the gate says no
    monkeypatch.setenv("MLOPS_TRIGGER", first["trigger"])
    aml.step_ran("evaluate", **run_tags(Decision(False, True, "roc_auc 0.98 < champion 0.99")))
    ran = azure_ml.run(
        azure_project, "dev", None, {"data": "azureml:breast-cancer:2"}, clients, poll_s=0
    )
    assert ran.ok and ran.gate["gate_decision"] == "not promoted"
    job = aml.resources[f"{aml.workspace_id}/jobs/{ran.job.name}".lower()]
    assert job["properties"]["tags"]["trigger"] == "data"

    second = retrain.decide_for(azure_project, "dev", clients=clients, **check)
    assert (second["retrain"], second["skip"], second["set"]) == (False, ALREADY_TRIED, [])
    listed = [r for r in aml.requests if r.path.endswith("/jobs") and r.method == "GET"]
    assert listed and "tag=dataset_name" in listed[-1].query


@pytest.fixture
def local_project(trained: Path, tmp_path: Path) -> Path:
    root = Path(shutil.copytree(trained, tmp_path / "demo", symlinks=True))
    # a gate no challenger passes: roc_auc cannot beat the champion by 1
    config = root / "mlops.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("min_improvement: 0.001", "min_improvement: 1.0"))
    assert "min_improvement: 1.0" in config.read_text(encoding="utf-8")
    return root


def test_locally_a_rejected_run_on_a_data_file_makes_the_next_check_skip_it(
    local_project: Path,
) -> None:
    loaded = load_config(local_project / "mlops.yaml")
    check = {"build_reason": "Schedule", "schedule": CHECK}
    data = local_project / "data" / "breast_cancer.csv"
    header, *rows = data.read_text(encoding="utf-8").splitlines(keepends=True)
    data.write_text(header + "".join(reversed(rows)), encoding="utf-8")  # new bytes

    first = retrain.decide_for(loaded, "local", **check)
    assert first["trigger"] == "data"

    ran = subprocess.run(
        [sys.executable, "-m", "mlops", "run", "-o", "json"],
        cwd=local_project,
        capture_output=True,
        text=True,
        env={**_environ(), "MLOPS_TRIGGER": "data"},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    # the local run records why it trained and on what, as the Azure ML job does
    from mlops.backends.local.tracking import Tracking
    from mlops.services.run import state_dir

    latest = Tracking(state_dir(loaded)).pipeline_runs()[0]  # newest first
    assert latest.tags["trigger"] == "data"
    assert (latest.tags["dataset_name"], latest.tags["dataset_version"]) == (
        "breast-cancer",
        first["data"]["version"],
    )

    second = retrain.decide_for(loaded, "local", **check)
    assert (second["retrain"], second["skip"]) == (False, ALREADY_TRIED)
    assert first["data"]["version"] in second["reason"]


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "MLOPS_TRIGGER"}
