"""`mlops deploy --env` with `monitoring.collection: true` creates the endpoint's monitor
schedule once the new deployment takes all traffic, on that deployment and against the data
asset the model was trained on: the real SDK (`ml.schedules.begin_create_or_update`, which
resolves the deployment's data collector assets first) against the Azure ML fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from mlops.services import azure_ml
from tests.aml.aml_fake import AmlFake
from tests.aml.conftest import endpoint_name, make_project, workspace_id

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ENDPOINT = endpoint_name("test")
SCORING_ENV = "azureml:diagnosis-scoring:3"


@pytest.fixture
def collecting(tmp_path: Path) -> LoadedConfig:
    loaded = make_project(tmp_path)
    path = loaded.root / "mlops.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "  target: managed\n",
        # an environment that installs azureml-ai-monitoring (no curated one does)
        f"  target: managed\n  environment: {SCORING_ENV}\n",
    )
    path.write_text(text + "\nmonitoring:\n  collection: true\n", encoding="utf-8")
    return load_config(path)


@pytest.fixture
def promoted(collecting: LoadedConfig, clients: AzureClients, aml: AmlFake) -> LoadedConfig:
    aml.seed_model(
        "diagnosis",
        "3",
        gate_decision="promoted",
        forced="false",
        dataset_name="breast-cancer",
        dataset_version="4",
        dataset_asset="azureml:breast-cancer:4",
    )
    azure_ml.promote(collecting, "diagnosis:3", "test", clients)
    return collecting


def _schedule(aml: AmlFake) -> dict | None:
    return aml.resources.get(f"{workspace_id('test')}/schedules/{ENDPOINT}-monitor".lower())


def test_each_deploy_moves_the_monitor_to_the_deployment_that_serves(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.seed_data_in(workspace_id("test"), "breast-cancer", "4", "azureml://datastores/x/d.csv")
    aml.seed_environment(workspace_id("test"), "diagnosis-scoring", "3")

    first = azure_ml.deploy(promoted, "test", "diagnosis:3", clients)
    schedule = _schedule(aml)
    assert first.monitor == f"{ENDPOINT}-monitor" and schedule is not None
    monitor = schedule["properties"]["action"]["monitorDefinition"]
    assert monitor["monitoringTarget"]["deploymentId"].endswith(
        f"/onlineEndpoints/{ENDPOINT}/deployments/blue"
    )
    drift = monitor["signals"]["data-drift"]
    # the baseline is the exact asset the model was trained on (its dataset_asset tag) ...
    assert drift["referenceData"]["uri"].endswith("/data/breast-cancer/versions/4")
    # ... and production data what the deployment's data collector registered
    assert drift["productionData"]["uri"].endswith(f"/data/{ENDPOINT}-blue-model_inputs/versions/1")
    put = next(w for w in aml.writes() if "/schedules/" in w.path)
    assert put.body["properties"]["action"]["actionType"] == "CreateMonitor"

    second = azure_ml.deploy(promoted, "test", "diagnosis:3", clients)
    assert second.deployment == "green"
    monitor = _schedule(aml)["properties"]["action"]["monitorDefinition"]
    assert monitor["monitoringTarget"]["deploymentId"].endswith("/deployments/green")


def test_the_dry_run_shows_the_monitor_schedule_and_writes_nothing(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    writes = len(aml.writes())
    release = azure_ml.dry_run(promoted, "test", "diagnosis:3", clients)
    [monitor] = [s for s in release.specs if "create_monitor" in s]
    assert monitor["name"] == f"{ENDPOINT}-monitor"
    assert monitor["create_monitor"]["monitoring_target"]["endpoint_deployment_id"] == (
        f"azureml:{ENDPOINT}:blue"
    )
    assert release.rollout_dict()["monitor"] == f"{ENDPOINT}-monitor"
    reference = monitor["create_monitor"]["monitoring_signals"]["data-drift"]["reference_data"]
    assert reference["input_data"]["path"] == "azureml:breast-cancer:4"
    assert len(aml.writes()) == writes


def test_without_collection_no_monitor_is_created(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.seed_model("diagnosis", "3", gate_decision="promoted", forced="false")
    azure_ml.promote(project, "diagnosis:3", "test", clients)
    result = azure_ml.deploy(project, "test", "diagnosis:3", clients)
    assert result.monitor is None
    assert not [w for w in aml.writes() if "/schedules/" in w.path]


def test_the_cli_dry_run_prints_a_schedule_the_sdk_loader_accepts(
    promoted: LoadedConfig, aml: AmlFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from azure.ai.ml.entities._load_functions import load_schedule

    from tests.aml.signed_in import run_cli_signed_in

    monkeypatch.chdir(promoted.root)
    before = len(aml.requests)
    result = run_cli_signed_in(
        aml, promoted.root, "deploy", "--env", "test", "--model", "diagnosis:3", "--dry-run"
    )

    assert result.exit_code == 0, result.stderr
    _, _, monitor = result.stdout.split("---\n")  # endpoint, deployment, monitor
    schedule = load_schedule(io.StringIO(monitor))
    assert schedule.name == f"{ENDPOINT}-monitor"
    target = schedule.create_monitor.monitoring_target.endpoint_deployment_id
    assert target == f"azureml:{ENDPOINT}:blue"
    assert {r.method for r in aml.requests[before:]} == {"GET"}
