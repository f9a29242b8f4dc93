"""Contract: drift reaches CT's check on both backends by one rule. On Azure the check reads
the newest finished run of each serving endpoint's monitor schedule (the real SDK against the
Azure ML fake: the schedule's jobs, then their runs from run history) and looks for Azure ML's
breach tag; locally it reads `mlops monitor`'s report. A breach after the champion trains; a
calm run, or a breach older than the champion, does not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.backends.azure.monitors import BREACH_TAG
from mlops.config.loader import LoadedConfig, load_config
from mlops.monitoring.schedule import schedule_name
from mlops.render import pipelines
from mlops.services import retrain
from tests.aml.aml_fake import AmlFake
from tests.aml.conftest import workspace_id

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CHECK = {"build_reason": "Schedule", "schedule": pipelines.CHECK_SCHEDULE}
#: the value Azure ML's monitoring components give the tag (azureml-assets, data drift)
BREACH = (
    "The signal 'data-drift' has failed due to one or more features violating metric"
    " thresholds.\nThe feature names and their corresponding computed metric values..."
)


@pytest.fixture
def collecting(azure_project: LoadedConfig) -> LoadedConfig:
    path = azure_project.root / "mlops.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "  target: managed\n", "  target: managed\n  environment: azureml:diagnosis-scoring:3\n"
    )
    path.write_text(text + "\nmonitoring:\n  collection: true\n", encoding="utf-8")
    return load_config(path)


def _monitor_run(aml: AmlFake, config: LoadedConfig, env: str, name: str, breached: bool) -> None:
    """A run of env's monitor schedule as Azure ML leaves it: the monitor pipeline job, a
    pipeline per signal, and the signal's evaluate step, which tags a breach and fails."""
    status = "Failed" if breached else "Completed"
    aml.seed_job(
        name,
        status,
        schedule=schedule_name(config.config, env),
        experiment="model-monitoring",
        workspace_id=workspace_id(env),
    )
    aml.seed_run(name, f"{name}-data-drift", status)
    tags = {BREACH_TAG: BREACH} if breached else {}
    aml.seed_run(f"{name}-data-drift", f"{name}-compute", "Completed")
    aml.seed_run(f"{name}-data-drift", f"{name}-evaluate", status, **tags)


def _on_azure(config: LoadedConfig, clients: AzureClients) -> dict:
    return retrain.decide_for(config, "dev", clients=clients, **CHECK)


def test_a_breach_after_the_champion_makes_the_azure_check_train_for_drift(
    collecting: LoadedConfig, aml: AmlFake, clients: AzureClients
) -> None:
    aml.seed_data("breast-cancer", "1", "azureml://datastores/workspaceblobstore/paths/d.csv")
    _monitor_run(aml, collecting, "prod", "monitor-old", breached=True)  # before the champion
    aml.seed_model("diagnosis", "1", gate_decision="promoted", forced="false")
    assert _on_azure(collecting, clients)["retrain"] is False  # its breach predates it

    _monitor_run(aml, collecting, "test", "monitor-calm", breached=False)
    calm = _on_azure(collecting, clients)
    assert (calm["retrain"], calm["drift"]["breached"]) == (False, False)
    assert "monitor-calm in test" in calm["drift"]["source"]

    _monitor_run(aml, collecting, "prod", "monitor-new", breached=True)
    drift = _on_azure(collecting, clients)

    assert (drift["retrain"], drift["trigger"]) == (True, "drift")
    assert list(drift["drift"]["signals"]) == ["data-drift"]
    assert "monitor-new in prod" in drift["reason"]
    # the schedule's jobs, as the SDK asks for them
    listed = [r for r in aml.requests if r.path.endswith("/jobs") and "scheduled=true" in r.query]
    assert listed and all("scheduleId=" in r.query for r in listed)


def test_without_monitoring_collection_the_azure_check_reads_no_monitor(
    azure_project: LoadedConfig, aml: AmlFake, clients: AzureClients
) -> None:
    aml.seed_model("diagnosis", "1", gate_decision="promoted", forced="false")
    result = _on_azure(azure_project, clients)
    assert result["drift"] is None
    assert not [r for r in aml.requests if "scheduled=true" in r.query]


@pytest.fixture
def local_project(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "demo", symlinks=True))


def test_one_rule_the_local_monitor_report_and_the_azure_monitor_run_agree(
    collecting: LoadedConfig,
    aml: AmlFake,
    clients: AzureClients,
    local_project: Path,
    tmp_path: Path,
) -> None:
    aml.seed_model("diagnosis", "1", gate_decision="promoted", forced="false")
    _monitor_run(aml, collecting, "prod", "monitor-1", breached=True)
    # `mlops monitor --env local --output json`, as it reports a drifted column
    report = tmp_path / "report.json"
    report.write_text(
        json.dumps({"drifted": True, "signals": [{"column": "mean_radius", "drifted": True}]}),
        encoding="utf-8",
    )
    local = retrain.decide_for(
        load_config(local_project / "mlops.yaml"), "local", monitor_report=report, **CHECK
    )
    azure = _on_azure(collecting, clients)

    assert (local["trigger"], azure["trigger"]) == ("drift", "drift")
    assert list(local["drift"]["signals"]) == ["mean_radius"]
