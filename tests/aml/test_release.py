"""`mlops promote` and `mlops deploy --env test|prod`: the real MLClient against a fake of
Azure ML (registry copy, endpoint and deployment long-running operations, traffic, scoring)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.cli._group import Terminated
from mlops.config.loader import LoadedConfig, load_config
from mlops.errors import BackendError, BadInputError
from mlops.services import azure_ml
from tests.aml.aml_fake import AmlFake, AmlFault, Fault, Scoring
from tests.aml.conftest import endpoint_name, make_project, workspace_id
from tests.conftest import run_cli

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ENDPOINT = endpoint_name("test")
TRAFFIC_PUT = rf"/onlineEndpoints/{ENDPOINT}$"
LOGS_API = "2023-04-01-preview"  # online_deployments.get_logs in azure-ai-ml 1.35


def _traffic(aml: AmlFake, env: str = "test") -> dict[str, int]:
    path = f"{workspace_id(env)}/onlineEndpoints/{endpoint_name(env)}".lower()
    return dict(aml.resources[path]["properties"].get("traffic") or {})


def _deployments(aml: AmlFake, env: str = "test") -> list[str]:
    prefix = f"{workspace_id(env)}/onlineEndpoints/{endpoint_name(env)}/deployments/".lower()
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
    # Entra tokens: the deployment identity smoke-tests with one, and nobody lists keys
    assert endpoint_put.body["properties"]["authMode"] == "AADToken"
    assert not [r for r in aml.requests if r.path.endswith("/listKeys")]
    deployment_put = next(w for w in aml.writes() if w.path.endswith("/deployments/blue"))
    props = deployment_put.body["properties"]
    assert props["model"].endswith("registries/mlr-mlops-diagnosis/models/diagnosis/versions/3")
    # a managed virtual network governs egress: the legacy per-deployment flag stays unset
    assert props.get("egressPublicNetworkAccess") in (None, "Enabled")
    assert [e for e, _ in events][:3] == ["creating", "deploying", "smoke-tested"]
    # scored directly before taking traffic, then at 100% directly and as the endpoint routes
    assert result.smoke == [
        "sample_request.json: 2 prediction(s)",
        "sample_request.json: 2 prediction(s)",
        "sample_request.json (as routed): 2 prediction(s)",
    ]


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

    aml.logs["green"] = "booting\nImportError: No module named 'sklearn'"

    with pytest.raises(BackendError) as rolled_back:
        azure_ml.deploy(promoted, "test", "diagnosis:4", clients)

    assert "rolled back green (diagnosis:4)" in rolled_back.value.message
    assert "traffic stays on blue" in rolled_back.value.message
    assert _traffic(aml) == {"blue": 100}
    assert _deployments(aml) == ["blue"]
    # the new deployment's last log lines, read before it went, as the SDK asks for them
    assert "ImportError: No module named 'sklearn'" in rolled_back.value.message
    [logs] = [r for r in aml.requests if r.path.endswith("/deployments/green/getLogs")]
    assert (logs.method, logs.body, logs.api_version) == ("POST", {"tail": 50}, LOGS_API)


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


@pytest.fixture
def upgrade(promoted: LoadedConfig, clients: AzureClients, aml: AmlFake) -> LoadedConfig:
    """blue serves diagnosis:3 with all traffic; diagnosis:4 is promoted, ready to roll out."""
    azure_ml.deploy(promoted, "test", "diagnosis:3", clients)
    aml.seed_model("diagnosis", "4", gate_decision="promoted", forced="false")
    azure_ml.promote(promoted, "diagnosis:4", "test", clients)
    return promoted


def _rolled_back(aml: AmlFake) -> None:
    """Traffic exactly as before the rollout, and no new deployment."""
    assert _traffic(aml) == {"blue": 100}
    assert _deployments(aml) == ["blue"]


def test_a_deployment_that_never_finishes_times_out_and_is_rolled_back(
    upgrade: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    # Azure ML accepts green, and its operation stays InProgress for as long as we wait
    aml.unfinished.add(r"/deployments/green$")
    try:
        with pytest.raises(BackendError) as timed_out:
            azure_ml.deploy(upgrade, "test", "diagnosis:4", clients, deployment_timeout=0.5)
    finally:
        aml.unfinished.clear()  # lets the SDK's poller thread, still polling, end

    message = timed_out.value.message
    assert message.startswith("rolled back green (diagnosis:4)")
    assert f"deploying green to endpoint {ENDPOINT}: timed out, not finished after 0.5 s" in (
        message
    )
    assert "traffic stays on blue" in message
    [put] = [r for r in aml.requests if r.method == "PUT" and r.path.endswith("/green")]
    assert ("DELETE", put.path) in [(r.method, r.path) for r in aml.writes()]
    _rolled_back(aml)


def test_a_network_error_while_moving_traffic_is_rolled_back(
    upgrade: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    # azure-core tries a PUT 4 times on a dropped connection: all 4 fail
    aml.faults.append(AmlFault.network("PUT", TRAFFIC_PUT, times=4))

    with pytest.raises(BackendError) as rolled_back:
        azure_ml.deploy(upgrade, "test", "diagnosis:4", clients, sleep=_no_sleep)

    message = rolled_back.value.message
    assert message.startswith("rolled back green (diagnosis:4)")
    assert "ServiceRequestError" in message and "traffic stays on blue" in message
    assert aml.faults[0].times == 0
    _rolled_back(aml)


def test_a_deployment_spec_the_sdk_loader_rejects_is_rolled_back(
    upgrade: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    text = upgrade.path.read_text(encoding="utf-8")
    text = text.replace("  instance_count: 1\n", "  instance_count: 1\n  environment: not-an-env\n")
    upgrade.path.write_text(text, encoding="utf-8")
    writes = len(aml.writes())

    with pytest.raises(BackendError) as rolled_back:
        azure_ml.deploy(load_config(upgrade.path), "test", "diagnosis:4", clients)

    assert rolled_back.value.message.startswith("rolled back green (diagnosis:4)")
    assert "ValidationError" in rolled_back.value.message
    assert aml.writes()[writes:] == []  # nothing was sent: nothing to undo
    _rolled_back(aml)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, Terminated, SystemExit])
def test_an_interrupt_during_the_rollout_rolls_back_then_unwinds_as_itself(
    upgrade: LoadedConfig, clients: AzureClients, aml: AmlFake, interrupt: type[BaseException]
) -> None:
    events: list[str] = []

    def on_event(event: str, detail: str) -> None:
        events.append(event)
        if event == "traffic" and events.count("traffic") == 1:  # green holds 10%
            assert _traffic(aml) == {"blue": 90, "green": 10}
            raise interrupt()

    with pytest.raises(interrupt):
        azure_ml.deploy(upgrade, "test", "diagnosis:4", clients, on_event=on_event)

    assert events[-1] == "rolling back"
    _rolled_back(aml)


def test_ctrl_c_while_waiting_to_retry_a_smoke_request_rolls_back(
    upgrade: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.faults.append(Fault("POST", r"/score$", 429))

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        azure_ml.deploy(upgrade, "test", "diagnosis:4", clients, sleep=interrupted)

    _rolled_back(aml)


@pytest.mark.parametrize(
    ("throttled", "headers", "waits", "core_waits"),
    [
        (1, {}, [1.0], []),
        (3, {}, [1.0, 2.0, 4.0], []),
        # azure-core honours Retry-After itself a few times (waiting through the transport);
        # once it gives up, the wait is ours
        (5, {"Retry-After": "7"}, [7.0], [7.0] * 4),
    ],
)
def test_a_throttled_smoke_request_is_retried_and_the_rollout_completes(
    upgrade: LoadedConfig,
    clients: AzureClients,
    aml: AmlFake,
    throttled: int,
    headers: dict[str, str],
    waits: list[float],
    core_waits: list[float],
) -> None:
    aml.faults.append(Fault("POST", r"/score$", 429, headers, times=throttled))
    slept: list[float] = []

    result = azure_ml.deploy(upgrade, "test", "diagnosis:4", clients, sleep=slept.append)

    assert (slept, [s for s in aml.slept if s]) == (waits, core_waits)  # not polls
    assert result.traffic[-1] == {"blue": 0, "green": 100}
    assert _traffic(aml) == {"green": 100}


def test_a_smoke_request_still_throttled_after_four_tries_fails_and_is_rolled_back(
    upgrade: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.faults.append(Fault("POST", r"/score$", 429, times=4))
    slept: list[float] = []

    with pytest.raises(BackendError) as rolled_back:
        azure_ml.deploy(upgrade, "test", "diagnosis:4", clients, sleep=slept.append)

    assert "answered 429, 4 tries" in rolled_back.value.message
    assert slept == [1.0, 2.0, 4.0]
    _rolled_back(aml)


def test_after_each_traffic_step_the_endpoint_is_smoke_tested_as_routed(
    upgrade: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    # green answers well when asked directly; the split still routes most requests to blue
    aml.scoring["blue"] = Scoring(200, {"predictions": [0]})

    with pytest.raises(BackendError) as rolled_back:
        azure_ml.deploy(upgrade, "test", "diagnosis:4", clients, sleep=_no_sleep)

    assert "smoke test: " + f"{ENDPOINT} (as routed) answered" in rolled_back.value.message
    _rolled_back(aml)


def test_a_traffic_update_applied_but_answered_500_is_still_rolled_back(
    upgrade: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    # every try of the first traffic step applies (blue 90, green 10) and answers 500
    aml.faults.append(AmlFault.processed_then("PUT", TRAFFIC_PUT, 500, times=4))

    with pytest.raises(BackendError) as rolled_back:
        azure_ml.deploy(upgrade, "test", "diagnosis:4", clients, sleep=_no_sleep)

    assert rolled_back.value.message.startswith("rolled back green (diagnosis:4)")
    assert aml.faults[0].times == 0
    _rolled_back(aml)


def test_a_rollback_that_fails_reports_what_it_left(
    upgrade: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    def on_event(event: str, detail: str) -> None:
        if event == "traffic":  # green holds 10%, then fails; no traffic change goes through
            aml.scoring["green"] = Scoring(500, {"error": {"code": "Boom", "message": "boom"}})
            aml.faults.append(Fault("PUT", TRAFFIC_PUT, 500, times=99))

    with pytest.raises(BackendError) as failed:
        azure_ml.deploy(upgrade, "test", "diagnosis:4", clients, on_event=on_event)

    message = failed.value.message
    assert "rolled back" not in message and "the rollback failed (setting traffic" in message
    assert f"left: deployment green still exists, traffic of {ENDPOINT}: blue 90%, green 10%" in (
        message
    )
    assert "--traffic blue=100" in (failed.value.hint or "")
    assert _traffic(aml) == {"blue": 90, "green": 10}


def _no_sleep(_: float) -> None:
    pass


def test_deploy_to_an_environment_missing_from_mlops_yaml_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path)
    monkeypatch.chdir(tmp_path)

    result = run_cli("deploy", "--env", "staging", "--model", "diagnosis:3")

    assert result.exit_code == 2
    assert "not an Azure environment" in result.stderr


def test_the_egress_flag_is_set_only_where_the_deployment_governs_its_own_egress(
    project: LoadedConfig,
) -> None:
    """Managed virtual network: the workspace's outbound rules govern egress, the legacy flag
    stays unset; customer VNet (network.mode vnet): the deployment disables its own egress."""
    from mlops.render.endpoint import deployment_spec

    managed = deployment_spec(project.config, "test", name="blue", model="azureml:m:1")
    assert "egress_public_network_access" not in managed
    vnet = project.config.model_copy(deep=True)
    vnet.network.mode = "vnet"
    spec = deployment_spec(vnet, "test", name="blue", model="azureml:m:1")
    assert spec["egress_public_network_access"] == "disabled"
