"""`mlops deploy --env ENV --dry-run`: what deploy would apply (colour, exact model, pinned
environment, traffic steps), from the same checks and reads as deploy and no write. The CLI
signed in against the fake of Azure ML, behind the real SDK."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from azure.ai.ml import load_online_deployment, load_online_endpoint

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig
from mlops.services import azure_ml
from tests.aml.aml_fake import AmlFake
from tests.aml.conftest import endpoint_name, make_project, workspace_id
from tests.aml.signed_in import run_cli_signed_in as _cli

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
PINNED = "azureml://registries/azureml/environments/sklearn-1.5/versions/27"


@pytest.fixture
def serving(project: LoadedConfig, clients: AzureClients, aml: AmlFake) -> LoadedConfig:
    """blue serves diagnosis:3 in test with all traffic; diagnosis:4 is promoted, not served."""
    for version in ("3", "4"):
        aml.seed_model("diagnosis", version, gate_decision="promoted", forced="false")
        azure_ml.promote(project, f"diagnosis:{version}", "test", clients)
        if version == "3":
            azure_ml.deploy(project, "test", "diagnosis:3", clients)
    return project


@pytest.mark.parametrize("kubernetes", [False, True])
def test_dry_run_prints_yaml_that_azure_ml_loaders_accept_and_only_reads_azure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aml: AmlFake, kubernetes: bool
) -> None:
    make_project(tmp_path, kubernetes=kubernetes)
    monkeypatch.chdir(tmp_path)
    if kubernetes:  # a Kubernetes endpoint reads the model from its own workspace
        aml.seed_model_in(workspace_id("test"), "diagnosis", "3")
    else:
        aml.seed_registry_model("diagnosis", "3")

    result = _cli(aml, tmp_path, "deploy", "--env", "test", "--model", "diagnosis:3", "--dry-run")

    assert result.exit_code == 0, result.stderr
    endpoint_text, deployment_text = result.stdout.split("---\n")
    endpoint = load_online_endpoint(io.StringIO(endpoint_text))
    origin = str(tmp_path / "mlops.yaml")
    deployment = load_online_deployment(io.StringIO(deployment_text), relative_origin=origin)
    kind = "Kubernetes" if kubernetes else "Managed"
    assert type(endpoint).__name__ == f"{kind}OnlineEndpoint"
    assert type(deployment).__name__ == f"{kind}OnlineDeployment"
    assert deployment.endpoint_name == endpoint.name == endpoint_name("test")
    if kubernetes:
        assert endpoint.compute == "aks" and str(deployment.model).endswith("diagnosis:3")
        assert deployment.environment == "AzureML-sklearn-1.5:27"  # the loader drops azureml:
    else:
        assert endpoint.public_network_access == "disabled"
        assert deployment.model.endswith("mlr-mlops-diagnosis/models/diagnosis/versions/3")
        assert deployment.environment == PINNED
    assert "create endpoint" in result.stderr  # none there yet: deploy would create it
    assert aml.requests and {r.method for r in aml.requests} == {"GET"}


def test_the_dry_run_names_what_the_next_deploy_then_applies(
    serving: LoadedConfig, clients: AzureClients, aml: AmlFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(serving.root)
    before = len(aml.requests)

    shown = _cli(
        aml, serving.root, "deploy", "-e", "test", "-m", "diagnosis:4", "--dry-run", "-o", "json"
    )

    assert shown.exit_code == 0, shown.stderr
    assert {r.method for r in aml.requests[before:]} == {"GET"}
    plan = shown.json()
    assert plan["endpoint"]["name"] == endpoint_name("test")
    model = "azureml://registries/mlr-mlops-diagnosis/models/diagnosis/versions/4"
    assert (
        plan["deployment"] | {"name": "green", "model": model, "environment": PINNED}
        == (plan["deployment"])
    )
    assert plan["rollout"] == {
        "creates_endpoint": False,
        "deployment": "green",
        "model": model,
        "environment": PINNED,
        "serving": "blue",
        "traffic_steps": [
            {"blue": 90, "green": 10},
            {"blue": 50, "green": 50},
            {"blue": 0, "green": 100},
        ],
        "removes": "blue",
        "monitor": None,  # monitoring.collection is off
    }

    applied = azure_ml.deploy(serving, "test", "diagnosis:4", clients)

    assert (applied.deployment, applied.previous, applied.model) == ("green", "blue", model)
    assert applied.traffic == plan["rollout"]["traffic_steps"]
    [put] = [r for r in aml.requests if r.method == "PUT" and r.path.endswith("/deployments/green")]
    assert put.body["properties"]["model"] == model
    assert put.body["properties"]["environmentId"] == PINNED


def test_a_dry_run_needs_azure_sign_in_and_fails_as_deploy_does(
    project: LoadedConfig, aml: AmlFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    args = ("deploy", "--env", "test", "--model", "diagnosis:3")

    dry = _cli(aml, project.root, *args, "--dry-run", signed_in=False)
    real = _cli(aml, project.root, *args, signed_in=False)

    for result in (dry, real):
        assert result.exit_code == 1 and result.exception is None
        assert "no Azure credentials" in result.stderr and "az login" in result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert aml.requests == []
