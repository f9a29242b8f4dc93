"""The exact data asset a model was trained on reaches the model: `mlops run --env` tags the
Azure ML job with `dataset_asset` (azureml:NAME:VERSION), and the register step copies its
pipeline run's tag onto the version it registers, so the monitor's baseline is that asset."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from diagnosis import champion
from diagnosis.prep import split
from diagnosis.register import DATASET_ASSET_TAG
from diagnosis.register import main as register
from diagnosis.schema import read_csv
from diagnosis.train import fit
from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig
from mlops.monitoring.schedule import DATASET_ASSET_TAG as MONITOR_TAG
from mlops.monitoring.schedule import baseline_asset
from mlops.services import azure_ml
from tests.aml.aml_fake import AmlFake

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DATA = Path(__file__).resolve().parents[2] / "data" / "breast_cancer.csv"


def test_the_azure_job_names_the_exact_data_asset_it_trains_on(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    azure_ml.run(project, "dev", None, {"data": "azureml:breast-cancer:7"}, clients, wait=False)
    [job] = [w for w in aml.writes() if "/jobs/" in w.path]
    assert job.body["properties"]["tags"]["dataset_asset"] == "azureml:breast-cancer:7"


def test_the_registered_model_keeps_its_pipeline_runs_data_asset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(variable, uri)
    monkeypatch.setenv(champion.LOCK_VARIABLE, str(tmp_path / "registry.lock"))
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("diagnosis")
    # the pipeline run as Azure ML records the job (its tags are the run's tags) and its step
    parent = client.create_run(
        experiment, tags={"mlops.run_id": "r1", DATASET_ASSET_TAG: "azureml:breast-cancer:7"}
    )
    step = client.create_run(experiment, tags={"mlflow.parentRunId": parent.info.run_id})
    monkeypatch.setenv("MLFLOW_RUN_ID", step.info.run_id)
    train, _ = split(read_csv(DATA))
    mlflow.sklearn.save_model(fit(train, regularization=0.01), tmp_path / "model")
    (tmp_path / "report").mkdir()
    gate = {
        "decision": "promoted",
        "promoted": True,
        "registerable": True,
        "reason": "first model",
        "primary_metric": "roc_auc",
        "direction": "maximize",
        "threshold": 0.9,
        "min_improvement": 0.0,
        "challenger": {"metrics": {"roc_auc": 0.99}, "dataset": {"name": "bc", "version": "h"}},
        "champion": None,
    }
    (tmp_path / "report" / "gate_report.json").write_text(json.dumps(gate))
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        register(
            [
                *("--model", str(tmp_path / "model"), "--report", str(tmp_path / "report")),
                *("--model-name", "diagnosis", "--out", str(tmp_path / "out")),
            ]
        )
    finally:
        mlflow.end_run()
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)

    tags = client.get_model_version("diagnosis", "1").tags
    assert tags[DATASET_ASSET_TAG] == "azureml:breast-cancer:7"
    assert tags["pipeline_run_id"] == "r1"
    assert MONITOR_TAG == DATASET_ASSET_TAG  # the name the monitor's baseline reads
    assert baseline_asset(_config(), tags, "diagnosis:1") == "azureml:breast-cancer:7"


def _config():
    from mlops.config.loader import load_config

    return load_config(Path(__file__).resolve().parents[2] / "mlops.yaml").config
