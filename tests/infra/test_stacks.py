"""Deployment stacks: removed resources are detached or deleted, deny settings stop hand edits,
and progress and errors while a stack deploys are reported as ARM gives them."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources.models import GenericResource

from mlops.backends.azure.calls import DENIED_HINT
from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from mlops.errors import BackendError, ConfigError
from mlops.plan import stacks as facts
from mlops.services import infra
from tests.infra.arm_fake import FakeArm, FakeCredential, Fault
from tests.infra.conftest import copy_config

SUB = "22222222-2222-2222-2222-222222222222"
PLATFORM = "0d000000-0000-4000-8000-000000000008"  # identities.platform in configs/vnet.yaml
BREAK_GLASS = "0e000000-0000-4000-8000-0000000000bb"
GPU = ("rg-contoso-churn-dev", "microsoft.machinelearningservices/workspaces/computes")


def _provision(loaded: LoadedConfig, clients: AzureClients, env: str = "dev", **kwargs):
    return infra.provision(loaded, env, clients, poll_seconds=0.01, **kwargs)


def _without_gpu_cluster(path: Path) -> LoadedConfig:
    text = path.read_text()
    line = next(x for x in text.splitlines() if "gpu-cluster:" in x)
    path.write_text(text.replace(line + "\n", ""))
    return load_config(path)


def _stack_puts(arm: FakeArm, name: str) -> list:
    return [r for r in arm.writes() if r.method == "PUT" and r.path.endswith(f"/{name}")]


def test_a_resource_removed_from_mlops_yaml_is_planned_as_detach_and_stays_in_azure(
    tmp_path: Path, clients: AzureClients, arm: FakeArm
) -> None:
    path = copy_config("vnet", tmp_path)
    _provision(load_config(path), clients)
    gpu = (*GPU, "mlw-contoso-churn-dev/gpu-cluster")
    assert gpu in arm.resources
    loaded = _without_gpu_cluster(path)

    plan = infra.plan(loaded, "dev", clients)

    dev = plan.stack("dev")
    assert dev is not None
    (released,) = [c for c in dev.changes if c.action == "detach"]
    assert released.type == "Microsoft.MachineLearningServices/workspaces/computes"
    assert released.name == "mlw-contoso-churn-dev/gpu-cluster"
    assert plan.has_changes
    assert _provision(loaded, clients).applied == ["dev"]
    sent = _stack_puts(arm, "mlops-churn-dev")[-1].body["properties"]
    assert sent["actionOnUnmanage"]["resources"] == "detach"
    managed = arm.stacks[("rg-contoso-churn-dev", "mlops-churn-dev")]["properties"]["resources"]
    assert not [r for r in managed if r["id"].endswith("/gpu-cluster")]
    assert gpu in arm.resources  # detached: still in Azure, no longer the stack's
    assert not infra.plan(loaded, "dev", clients).has_changes


def test_with_prune_a_removed_resource_is_planned_and_applied_as_a_delete(
    tmp_path: Path, clients: AzureClients, arm: FakeArm
) -> None:
    path = copy_config("vnet", tmp_path)
    _provision(load_config(path), clients)
    loaded = _without_gpu_cluster(path)

    plan = infra.plan(loaded, "dev", clients, prune=True)

    dev = plan.stack("dev")
    assert dev is not None
    assert [c.name for c in dev.changes if c.action == "delete"] == [
        "mlw-contoso-churn-dev/gpu-cluster"
    ]
    assert not [c for c in dev.changes if c.action == "detach"]
    _provision(loaded, clients, saved=plan)  # the reviewed plan was made with --prune
    sent = _stack_puts(arm, "mlops-churn-dev")[-1].body["properties"]
    assert sent["actionOnUnmanage"] == {
        "resources": "delete",
        "resourceGroups": "delete",
        "managementGroups": "detach",
    }
    assert (*GPU, "mlw-contoso-churn-dev/gpu-cluster") not in arm.resources
    assert not infra.plan(loaded, "dev", clients, prune=True).has_changes


def _hand_edit(arm: FakeArm, principal: str, resource_id: str, method: str = "PUT") -> None:
    """What someone with Contributor does in the portal: write the resource by its id."""
    client = ResourceManagementClient(
        FakeCredential(oid=principal), SUB, transport=arm, polling_interval=0
    )
    if method == "DELETE":
        client.resources.begin_delete_by_id(resource_id, api_version="2023-07-01").result()
    else:
        body = GenericResource(location="westeurope", tags={"edited": "by hand"})
        client.resources.begin_create_or_update_by_id(
            resource_id, body, api_version="2023-07-01"
        ).result()


def test_a_hand_edit_of_a_prod_resource_is_refused_while_the_break_glass_principal_may(
    tmp_path: Path, clients: AzureClients, arm: FakeArm
) -> None:
    path = copy_config("vnet", tmp_path)
    text = path.read_text().replace(
        "  name_prefix: contoso\n",
        f"  name_prefix: contoso\n  stacks: {{break_glass: [{BREAK_GLASS}]}}\n",
    )
    path.write_text(text)
    loaded = load_config(path)
    _provision(loaded, clients, env="prod")
    sent = _stack_puts(arm, "mlops-churn-prod")[-1].body["properties"]
    assert sent["denySettings"] == {
        "mode": "denyWriteAndDelete",
        "excludedPrincipals": [PLATFORM, BREAK_GLASS],
        # the resource-log policies' identities write diagnostic settings (test_diagnostics)
        "excludedActions": ["Microsoft.Insights/diagnosticSettings/write"],
    }
    vault = next(
        rid
        for rid in (
            r["id"]
            for r in arm.stacks[("rg-contoso-churn-prod", "mlops-churn-prod")]["properties"][
                "resources"
            ]
        )
        if "/Microsoft.KeyVault/vaults/" in rid
    )
    someone = "0f000000-0000-4000-8000-00000000000f"

    for method in ("PUT", "DELETE"):
        with pytest.raises(HttpResponseError) as refused:
            _hand_edit(arm, someone, vault, method)
        assert refused.value.status_code == 403
        assert refused.value.error.code == "DenyAssignmentAuthorizationFailed"

    _hand_edit(arm, BREAK_GLASS, vault)
    key = ("rg-contoso-churn-prod", "microsoft.keyvault/vaults", vault.rsplit("/", 1)[1].lower())
    assert arm.resources[key]["tags"] == {"edited": "by hand"}


def test_dev_keeps_hands_on_unless_mlops_yaml_denies_it(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    _provision(vnet_project, clients)
    managed = arm.stacks[("rg-contoso-churn-dev", "mlops-churn-dev")]["properties"]["resources"]

    _hand_edit(arm, "0f000000-0000-4000-8000-00000000000f", managed[0]["id"])

    assert infra.stack_settings(vnet_project, "dev", prune=False).deny_mode == "none"
    for stack in ("shared", "test", "prod"):
        assert infra.stack_settings(vnet_project, stack, prune=False).deny_mode == (
            "denyWriteAndDelete"
        )


def test_more_excluded_principals_than_azure_allows_exit_2_naming_the_field(
    tmp_path: Path, clients: AzureClients, arm: FakeArm
) -> None:
    path = copy_config("vnet", tmp_path)
    many = ", ".join(f"0e000000-0000-4000-8000-00000000000{i}" for i in range(5))
    path.write_text(
        path.read_text().replace(
            "  name_prefix: contoso\n",
            f"  name_prefix: contoso\n  stacks: {{break_glass: [{many}], deny: {{qa: none}}}}\n",
        )
    )

    with pytest.raises(ConfigError) as refused:
        _provision(load_config(path), clients)

    issues = {i.path: i.message for i in refused.value.issues}
    assert f"Azure allows {facts.MAX_EXCLUDED_PRINCIPALS}" in issues["azure.stacks.break_glass"]
    assert "6 excluded principals" in issues["azure.stacks.break_glass"]
    assert "not a stack of this platform" in issues["azure.stacks.deny.qa"]
    assert arm.requests == []


def test_the_config_speaks_the_deny_modes_azure_knows() -> None:
    from typing import get_args

    from mlops.config.platform import Stacks

    annotation = Stacks.model_fields["deny"].annotation
    assert get_args(get_args(annotation)[1]) == facts.DENY_MODES
    assert get_args(Stacks.model_fields["action_on_unmanage"].annotation) == (
        facts.UNMANAGE_ACTIONS
    )


def test_a_failing_operations_list_during_polling_does_not_abort(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    events: list[tuple[str, str, str]] = []
    arm.faults = [
        Fault("GET", r"/deployments/mlops-churn-shared-[^/]+/operations$", 404, times=50),
        Fault("GET", r"/deployments/mlops-churn-dev-[^/]+/operations$", 500, times=50),
    ]

    result = _provision(vnet_project, clients, on_event=lambda *e: events.append(e))

    assert result.applied == ["shared", "dev", "roles"]
    assert all(f.times < 50 for f in arm.faults)  # the listing was tried, and failed
    assert not [e for e in events if e[1] == "Failed"]
    assert not infra.plan(vnet_project, "dev", clients).has_changes


def test_a_failed_stack_names_each_failed_resource_with_azures_message(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    arm.fail_once = {"mlr-contoso-churn": "The registry name is already taken."}
    arm.faults = [Fault("GET", r"/operations$", 500, times=50)]  # no operations list either

    with pytest.raises(BackendError) as failed:
        _provision(vnet_project, clients)

    message = failed.value.message
    assert "deployment stack mlops-churn-shared in rg-contoso-churn-shared failed" in message
    assert "Microsoft.MachineLearningServices/registries/mlr-contoso-churn" in message
    assert "The registry name is already taken." in message
    assert "mlops provision" in (failed.value.hint or "")


def test_a_403_on_the_resource_group_check_gives_the_permission_hint(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    arm.faults = [Fault("HEAD", r"/resourcegroups/rg-contoso-churn-shared$", 403)]

    with pytest.raises(BackendError) as denied:
        infra.plan(vnet_project, "dev", clients)

    assert "checking resource group rg-contoso-churn-shared: permission denied" in (
        denied.value.message
    )
    assert denied.value.hint == DENIED_HINT


def test_a_403_creating_the_resource_group_gives_the_permission_hint(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    arm.faults = [Fault("PUT", r"/resourcegroups/rg-contoso-churn-shared$", 403)]

    with pytest.raises(BackendError) as denied:
        _provision(vnet_project, clients)

    assert "creating resource group rg-contoso-churn-shared: permission denied" in (
        denied.value.message
    )
    assert denied.value.hint == DENIED_HINT
