"""`mlops promote` and `mlops deploy --env test|prod`: the real MLClient against a fake of
Azure ML (registry copy, endpoint and deployment long-running operations, traffic, scoring)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from azure.ai.ml import load_online_deployment, load_online_endpoint

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig
from mlops.errors import BackendError, BadInputError
from mlops.services import azure_ml
from tests.aml.aml_fake import AmlFake, Fault, Scoring
from tests.aml.conftest import make_project, workspace_id
from tests.conftest import run_cli

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ENDPOINT = "diagnosis-online"


def _traffic(aml: AmlFake, env: str = "test") -> dict[str, int]:
    path = f"{workspace_id(env)}/onlineEndpoints/{ENDPOINT}".lower()
    return dict(aml.resources[path]["properties"].get("traffic") or {})


def _deployments(aml: AmlFake, env: str = "test") -> list[str]:
    prefix = f"{workspace_id(env)}/onlineEndpoints/{ENDPOINT}/deployments/".lower()
    return sorted(k.rsplit("/", 1)[1] for k in aml.resources if k.startswith(prefix))


@pytest.fixture
def promoted(project: LoadedConfig, clients: AzureClients, aml: AmlFake) -> LoadedConfig:
    """diagnosis:3, promoted by the gate in dev, copied into the registry."""
    aml.seed_model("diagnosis", "3", gate_decision="promoted", forced="false", build_id="42")
    azure_ml.promote(project, "diagnosis:3", "test", clients)
    return project


def test_promotion_copies_a_gate_promoted_version_into_the_registry_once(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.seed_model("diagnosis", "3", gate_decision="promoted", forced="false", git_commit="abc")

    first = azure_ml.promote(project, "diagnosis:3", "test", clients)
    writes = len(aml.writes())
    again = azure_ml.promote(project, "diagnosis:3", "test", clients)

    assert first.copied and not again.copied
    assert len(aml.writes()) == writes  # the same bits, never copied twice
    copied = aml.registry_model("diagnosis", "3")
    assert copied is not None and copied["properties"]["tags"]["git_commit"] == "abc"
    [share] = [w for w in aml.writes() if w.path.endswith("/import")]
    assert share.body["properties"]["sourceAssetId"].endswith("/models/diagnosis/versions/3")


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        ({"gate_decision": "not promoted"}, "not promoted by the gate: not promoted"),
        ({"gate_decision": "promoted", "forced": "true"}, "(registered by force)"),
        ({}, "no decision recorded"),
    ],
)
def test_promotion_refuses_what_the_gate_did_not_promote_before_any_write(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake, tags: dict[str, str], why: str
) -> None:
    aml.seed_model("diagnosis", "4", **tags)

    with pytest.raises(BadInputError) as refused:
        azure_ml.promote(project, "diagnosis:4", "test", clients)

    assert why in refused.value.message
    assert aml.writes() == []


def test_promotion_to_prod_needs_test_to_serve_that_version(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    with pytest.raises(BadInputError) as refused:
        azure_ml.promote(promoted, "diagnosis:3", "prod", clients)
    assert "not what test serves (no endpoint there yet)" in refused.value.message

    azure_ml.deploy(promoted, "test", "diagnosis:3", clients)

    assert azure_ml.promote(promoted, "diagnosis:3", "prod", clients).copied is False


def test_bad_references_are_refused_with_exit_2(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    with pytest.raises(BadInputError, match="is not in the dev workspace"):
        azure_ml.promote(project, "diagnosis:9", "test", clients)
    with pytest.raises(BadInputError, match="where models are trained"):
        azure_ml.promote(project, "diagnosis:9", "dev", clients)
    with pytest.raises(BadInputError, match="names no version"):
        azure_ml.promote(project, "diagnosis", "test", clients)
    with pytest.raises(BadInputError, match="not an Azure environment"):
        azure_ml.promote(project, "diagnosis:9", "staging", clients)
    with pytest.raises(BadInputError, match="is not in the shared registry"):
        azure_ml.deploy(project, "test", "diagnosis:9", clients)
    assert aml.writes() == []


def test_a_first_deployment_creates_a_private_endpoint_then_takes_all_traffic(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    events: list[tuple[str, str]] = []

    result = azure_ml.deploy(
        promoted, "test", "diagnosis:3", clients, on_event=lambda *e: events.append(e)
    )

    assert (result.deployment, result.previous) == ("blue", None)
    assert _traffic(aml) == {"blue": 100}
    endpoint_put = next(w for w in aml.writes() if w.path.endswith(f"/onlineEndpoints/{ENDPOINT}"))
    assert endpoint_put.body["properties"]["publicNetworkAccess"].lower() == "disabled"
    assert endpoint_put.body["properties"]["authMode"] == "Key"
    deployment_put = next(w for w in aml.writes() if w.path.endswith("/deployments/blue"))
    props = deployment_put.body["properties"]
    assert props["model"].endswith("registries/mlr-mlops-diagnosis/models/diagnosis/versions/3")
    assert props["egressPublicNetworkAccess"].lower() == "disabled"
    assert [e for e, _ in events][:3] == ["creating", "deploying", "smoke-tested"]
    assert result.smoke == ["sample_request.json: 2 prediction(s)"] * 2  # before, and at 100%


def test_a_new_version_rolls_out_blue_green_by_the_configured_steps(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    azure_ml.deploy(promoted, "test", "diagnosis:3", clients)
    aml.seed_model("diagnosis", "4", gate_decision="promoted", forced="false")
    azure_ml.promote(promoted, "diagnosis:4", "test", clients)

    result = azure_ml.deploy(promoted, "test", "diagnosis:4", clients)

    assert (result.deployment, result.previous) == ("green", "blue")
    assert result.traffic == [
        {"blue": 90, "green": 10},
        {"blue": 50, "green": 50},
        {"blue": 0, "green": 100},
    ]
    assert _traffic(aml) == {"green": 100}
    assert _deployments(aml) == ["green"]
    # the new deployment was scored directly before it took any traffic
    scores = [r for r in aml.requests if r.path.endswith("/score")]
    assert scores


@pytest.mark.parametrize(
    "failure", ["smoke test answers 500", "provisioning fails", "wrong number of answers"]
)
def test_a_failing_new_deployment_is_rolled_back_and_traffic_stays_on_the_old_one(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake, failure: str
) -> None:
    azure_ml.deploy(promoted, "test", "diagnosis:3", clients)
    aml.seed_model("diagnosis", "4", gate_decision="promoted", forced="false")
    azure_ml.promote(promoted, "diagnosis:4", "test", clients)
    if failure == "provisioning fails":
        aml.failing_deployments["green"] = "ImageBuildFailure: conda failed"
    elif failure == "smoke test answers 500":
        aml.scoring["green"] = Scoring(500, {"error": "boom"})
    else:
        aml.scoring["green"] = Scoring(200, {"predictions": [0, 1, 1]})

    with pytest.raises(BackendError) as rolled_back:
        azure_ml.deploy(promoted, "test", "diagnosis:4", clients)

    assert "rolled back green (diagnosis:4)" in rolled_back.value.message
    assert "traffic stays on blue" in rolled_back.value.message
    assert _traffic(aml) == {"blue": 100}
    assert _deployments(aml) == ["blue"]


def test_deployment_calls_survive_throttling_and_server_errors(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.faults += [
        Fault("PUT", r"/onlineEndpoints/[^/]+$", 503),
        Fault("PUT", r"/deployments/blue$", 429),
        Fault("GET", r"/deployments/blue$", 500),
    ]

    azure_ml.deploy(promoted, "test", "diagnosis:3", clients)

    assert _traffic(aml) == {"blue": 100}
    assert [f.times for f in aml.faults] == [0, 0, 0]


@pytest.mark.parametrize("kubernetes", [False, True])
def test_dry_run_prints_yaml_that_azure_ml_loaders_accept_with_no_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubernetes: bool
) -> None:
    loaded = make_project(tmp_path, kubernetes=kubernetes)
    monkeypatch.chdir(tmp_path)

    result = run_cli("deploy", "--env", "prod", "--model", "diagnosis:3", "--dry-run")

    assert result.exit_code == 0, result.stderr
    endpoint_text, deployment_text = result.stdout.split("---\n")
    endpoint = load_online_endpoint(io.StringIO(endpoint_text))
    origin = str(tmp_path / "mlops.yaml")
    deployment = load_online_deployment(io.StringIO(deployment_text), relative_origin=origin)
    kind = "Kubernetes" if kubernetes else "Managed"
    assert type(endpoint).__name__ == f"{kind}OnlineEndpoint"
    assert type(deployment).__name__ == f"{kind}OnlineDeployment"
    assert deployment.endpoint_name == endpoint.name == loaded.config.deployment.endpoint_name
    if kubernetes:
        assert endpoint.compute == "aks" and str(deployment.model).endswith("diagnosis:3")
    else:
        assert endpoint.public_network_access == "disabled"
        assert deployment.model.endswith("mlr-mlops-diagnosis/models/diagnosis/versions/3")


def test_deploy_to_an_environment_missing_from_mlops_yaml_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)

    result = run_cli("deploy", "--env", "staging", "--model", "diagnosis:3")

    assert result.exit_code == 2
    assert "not an Azure environment" in result.stderr
