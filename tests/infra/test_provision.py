"""`plan` and `provision` through the real ARM SDK against a fake that answers like ARM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.cli.infra import show_plan
from mlops.config.loader import LoadedConfig, load_config
from mlops.errors import BackendError, BadInputError, ConfigError
from mlops.services import infra
from tests.conftest import run_cli
from tests.infra.arm_fake import FakeArm, Fault
from tests.infra.conftest import copy_config


def _provision(loaded: LoadedConfig, clients: AzureClients, **kwargs) -> infra.ProvisionResult:
    return infra.provision(loaded, "dev", clients, poll_seconds=0.01, **kwargs)


def test_first_provision_creates_resource_groups_then_applies_shared_before_the_environment(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    events: list[tuple[str, str, str]] = []
    result = _provision(vnet_project, clients, on_event=lambda *e: events.append(e))

    assert result.applied == ["shared", "dev", "roles"]
    assert result.created_resource_groups == ["rg-contoso-churn-shared", "rg-contoso-churn-dev"]
    # each stack is a deployment stack named after the project, so projects never collide
    stacks = [r for r in arm.writes() if "/deploymentStacks/" in r.path]
    assert [r.path.rsplit("/", 1)[1] for r in stacks] == ["mlops-churn-shared", "mlops-churn-dev"]
    assert not [r for r in arm.writes() if "/deployments/" in r.path]
    sent = stacks[1].body["properties"]
    # the request carries exactly the rendered template and parameter values
    stack = {s.name: s for s in infra.select(vnet_project, "dev")}["dev"]
    assert sent["template"] == json.loads(json.dumps(stack.arm()))
    assert sent["parameters"]["organizationUrl"] == {"value": "https://dev.azure.com/contoso"}
    assert sent["actionOnUnmanage"]["resources"] == "detach"
    assert sent["denySettings"] == {"mode": "none"}  # dev: hands on by default
    # progress names each resource operation as it completes
    assert ("dev", "Succeeded", "Microsoft.Storage/storageAccounts/stcontosochurndev") in [
        (s, e, d[: d.rfind("dev") + 3]) for s, e, d in events
    ]


def test_an_unchanged_second_provision_sends_no_write(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    _provision(vnet_project, clients)
    writes = len(arm.writes())

    again = _provision(vnet_project, clients)

    assert again.applied == []
    assert not again.plan.has_changes
    assert len(arm.writes()) == writes
    assert {c.action for s in again.plan.stacks for c in s.changes} == {"no-change"}


def test_a_what_if_modify_renders_as_a_plan_table_with_property_differences(
    tmp_path: Path, clients: AzureClients, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy_config("vnet", tmp_path)
    _provision(load_config(path), clients)
    path.write_text(path.read_text().replace("max_nodes: 4", "max_nodes: 8"))

    plan = infra.plan(load_config(path), "dev", clients)

    (dev,) = [s for s in plan.stacks if s.stack == "dev"]
    (modify,) = [c for c in dev.changes if c.action == "modify"]
    assert modify.type == "Microsoft.MachineLearningServices/workspaces/computes"
    assert modify.name == "mlw-contoso-churn-dev/cpu-cluster"
    (diff,) = modify.properties
    assert diff.path == "properties.properties.scaleSettings.maxNodeCount"
    assert (diff.before, diff.after) == (4, 8)
    show_plan(plan)
    table = capsys.readouterr().out
    assert "mlw-contoso-churn-dev/cpu-cluster" in table
    assert "maxNodeCount: 4 -> 8" in table
    assert "changes pending" in table


def test_throttling_and_server_errors_are_retried(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    arm.faults = [
        Fault("HEAD", r"/resourcegroups/rg-contoso-churn-dev$", 429, {"Retry-After": "1"}),
        Fault("PUT", r"/deploymentStacks/mlops-churn-dev$", 503),
        Fault("POST", r"/whatIf$", 500, times=2),
    ]
    result = _provision(vnet_project, clients)
    assert result.applied == ["shared", "dev", "roles"]
    assert [f.times for f in arm.faults] == [0, 0, 2]  # no what-if for a new resource group
    heads = [r for r in arm.requests if r.method == "HEAD" and r.path.endswith("churn-dev")]
    assert len(heads) >= 2

    assert not infra.plan(vnet_project, "dev", clients).has_changes
    assert arm.faults[2].times == 0


def test_a_deployment_failing_halfway_names_the_resource_and_a_rerun_completes_it(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    vault = next(
        r.name
        for r in infra.select(vnet_project, "dev")[1].template.resources
        if r.type == "Microsoft.KeyVault/vaults"
    )
    arm.fail_once = {vault: "The vault name is already in use."}

    with pytest.raises(BackendError) as failed:
        _provision(vnet_project, clients)
    assert f"Microsoft.KeyVault/vaults/{vault}" in failed.value.message
    assert "The vault name is already in use." in failed.value.message

    plan = infra.plan(vnet_project, "dev", clients)
    dev = plan.stack("dev")
    assert dev is not None and dev.counts()["no-change"] >= 3  # what was created is kept
    assert _provision(vnet_project, clients).applied == ["dev", "roles"]
    assert not infra.plan(vnet_project, "dev", clients).has_changes


def test_a_saved_plan_is_applied_only_while_azure_still_matches_it(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    saved = infra.plan(vnet_project, "dev", clients)
    arm.resource_groups["rg-contoso-churn-dev"] = {"name": "rg-contoso-churn-dev"}  # drift

    with pytest.raises(BackendError, match="no longer matches the saved plan for dev"):
        _provision(vnet_project, clients, saved=saved)
    assert arm.writes() == []


def test_a_plan_file_from_another_config_exits_2_before_any_call(
    tmp_path: Path, vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    other = load_config(copy_config("managed", tmp_path / "other"))
    plan = infra.offline_plan(other, None, "test")
    saved = json.loads(json.dumps(plan.to_dict()))
    saved["offline"] = False
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(saved))

    with pytest.raises(BadInputError, match="made from another configuration"):
        infra.load_plan(plan_file, vnet_project)
    plan_file.write_text("not json")
    with pytest.raises(BadInputError, match="not a plan saved by"):
        infra.load_plan(plan_file, vnet_project)
    assert arm.requests == []


def test_provisioning_names_every_missing_setting_before_any_call(
    tmp_path: Path, clients: AzureClients, arm: FakeArm
) -> None:
    loaded = load_config(copy_config("managed", tmp_path))
    with pytest.raises(ConfigError) as missing:
        _provision(loaded, clients)
    paths = [i.path for i in missing.value.issues]
    assert paths == [
        "azure.subscription_id",
        "network.build_agents.dev_center_project_id",
        "devops.organization_url",
    ]
    assert all(i.line for i in missing.value.issues)
    assert arm.requests == []


def test_plan_without_credentials_or_subscription_is_offline_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config("managed", tmp_path)
    monkeypatch.chdir(tmp_path)

    result = run_cli("plan", "--env", "prod", "--output", "json", "--detailed-exitcode")

    assert result.exit_code == 1  # an offline plan compared nothing: neither 0 nor 3
    assert "could not compare with Azure" in result.stderr
    plan = result.json()
    assert plan["offline"] is True
    assert "subscription" in plan["reason"]
    assert [s["stack"] for s in plan["stacks"]] == ["shared", "prod", "roles"]
    assert {c["action"] for s in plan["stacks"] for c in s["changes"]} == {"create"}
    table = run_cli("plan", "--offline", "--out", "plan.json")
    assert table.exit_code == 0
    assert "offline plan" in table.stdout
    assert json.loads((tmp_path / "plan.json").read_text())["offline"] is True


def test_provision_cli_rejects_bad_input_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config("vnet", tmp_path)
    monkeypatch.chdir(tmp_path)
    assert run_cli("provision", "--env", "staging").exit_code == 2
    unconfirmed = run_cli("provision", "--env", "dev")
    assert unconfirmed.exit_code == 2
    assert "--yes" in unconfirmed.stderr
    (tmp_path / "plan.json").write_text("{}")
    bad_plan = run_cli("provision", "--plan", "plan.json", "--yes")
    assert bad_plan.exit_code == 2
    assert "not a plan saved by" in bad_plan.stderr
