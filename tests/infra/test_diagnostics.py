"""Resource logs of every environment go to its Log Analytics workspace through Azure
Policy: the assignments and their identities' roles in the rendered JSON, the remediation
tasks `mlops provision` starts, and the deny settings that let the policies write."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources.models import GenericResource

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from mlops.plan.roles import ObservedAssignment, role_changes
from mlops.rbac.model import role_model
from mlops.services import infra
from tests.infra.arm_fake import FakeArm, FakeCredential
from tests.infra.conftest import CONFIGS, copy_config
from tests.infra.network_helpers import one, resources, templates

POLICY = "Microsoft.Authorization/policyAssignments"
ROLE = "Microsoft.Authorization/roleAssignments"
INITIATIVE = (
    "/providers/Microsoft.Authorization/policySetDefinitions/0884adba-2312-4468-abeb-5422caed1038"
)
BLOB = "/providers/Microsoft.Authorization/policyDefinitions/b4fe1a3b-0715-4c6c-a5ea-ffc33cf823cb"
FILE = "/providers/Microsoft.Authorization/policyDefinitions/25a70cc8-2bd4-47f1-90b6-1478e4662c96"
MONITORING_CONTRIBUTOR = "749f88d5-cbae-40b8-bcfc-e573ddc772fa"
LOG_ANALYTICS_CONTRIBUTOR = "92aaf0da-9dab-42b6-94a3-d43ce8d16293"
PLATFORM = "0d000000-0000-4000-8000-000000000008"  # identities.platform in configs/vnet.yaml


def _parameters(template: dict, assignment: dict) -> dict:
    value = assignment["properties"]["parameters"]
    return template["variables"][value.removeprefix("[variables('").removesuffix("')]")]


@pytest.mark.parametrize("config", ["managed", "vnet", "kubernetes"])
def test_every_environment_assigns_the_resource_log_policies_to_its_own_workspace(
    config: str,
) -> None:
    for env, template in templates(CONFIGS / f"{config}.yaml").items():
        assigned = resources(template, POLICY)
        if env == "shared":
            assert assigned == []  # no workspace of its own: see the README
            continue
        logs = one(template, "Microsoft.OperationalInsights/workspaces")
        workspace_id = f"[resourceId('{logs['type']}', '{logs['name']}')]"
        assert sorted(a["properties"]["policyDefinitionId"] for a in assigned) == sorted(
            [INITIATIVE, BLOB, FILE]
        )
        for assignment in assigned:
            assert assignment["identity"] == {"type": "SystemAssigned"}
            assert assignment["location"] == "[parameters('location')]"
            assert assignment["properties"]["enforcementMode"] == "Default"
            assert _parameters(template, assignment) == {"logAnalytics": {"value": workspace_id}}


def test_each_policy_identity_holds_exactly_the_roles_its_definitions_name_at_the_group() -> None:
    template = templates(CONFIGS / "vnet.yaml")["prod"]
    granted: dict[str, set[str]] = {}
    for role in resources(template, ROLE):
        props = role["properties"]
        assert props["principalType"] == "ServicePrincipal"
        assert "scope" not in role  # the resource group the stack deploys into
        assignment = props["principalId"].split("'")[3]  # reference(resourceId(T, name), ...)
        guid = props["roleDefinitionId"].split("'")[3]
        granted.setdefault(assignment, set()).add(guid)
        assert role["dependsOn"] == [
            f"[resourceId('Microsoft.Authorization/policyAssignments', '{assignment}')]"
        ]
    names = {a["name"] for a in resources(template, POLICY)}
    assert granted == {n: {MONITORING_CONTRIBUTOR, LOG_ANALYTICS_CONTRIBUTOR} for n in names}


def test_provision_starts_a_remediation_task_per_covered_resource_type_once(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    result = infra.provision(vnet_project, "dev", clients, poll_seconds=0.01)

    tasks = arm.remediations["rg-contoso-churn-dev"]
    by_assignment: dict[str, set[str | None]] = {}
    for task in tasks.values():
        props = task["properties"]
        assert props["resourceDiscoveryMode"] == "ReEvaluateCompliance"
        assignment = props["policyAssignmentId"].rsplit("/", 1)[1]
        by_assignment.setdefault(assignment, set()).add(props.get("policyDefinitionReferenceId"))
    # vnet dev: workspace, Key Vault, ACR, App Insights, Log Analytics, NSGs, the network, the
    # firewall, the VPN gateway and their public IPs; storage through its own two definitions
    assert by_assignment == {
        "mlops-churn-resource-logs": {
            "machinelearningservices-workspaces",
            "keyvault-vaults",
            "containerregistry-registries",
            "insights-components",
            "operationalinsights-workspaces",
            "network-networksecuritygroups",
            "network-virtualnetworks",
            "network-azurefirewalls",
            "network-publicipaddresses",
            "network-virtualnetworkgateways",
        },
        "mlops-churn-blob-logs": {None},
        "mlops-churn-file-logs": {None},
    }
    assert len(result.remediations) == 12
    # after the stack: a task names an assignment the stack has deployed (the fake checks it)
    paths = [r.path for r in arm.writes()]
    stack = next(i for i, p in enumerate(paths) if p.endswith("/mlops-churn-dev"))
    first_task = next(i for i, p in enumerate(paths) if "/remediations/" in p)
    assert stack < first_task
    # the shared stack assigns no policy and gets no task
    assert "rg-contoso-churn-shared" not in arm.remediations


def test_a_rerun_of_the_same_apply_finds_its_tasks_and_creates_none(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    stack = next(s for s in infra.select(vnet_project, "dev") if s.name == "dev")
    infra.provision(vnet_project, "dev", clients, poll_seconds=0.01)
    puts = [r for r in arm.writes() if "/remediations/" in r.path]

    again = infra.remediate(stack, clients, lambda *_: None)

    assert again == []
    assert [r for r in arm.writes() if "/remediations/" in r.path] == puts


def _write_as(arm: FakeArm, principal: str, resource_id: str) -> None:
    client = ResourceManagementClient(FakeCredential(principal), "sub", transport=arm)
    client.resources.begin_create_or_update_by_id(
        resource_id, GenericResource(tags={"by": principal}), api_version="2021-05-01-preview"
    ).result()


def test_deny_settings_exclude_only_the_diagnostic_setting_write_the_policies_need(
    tmp_path: Path, clients: AzureClients, arm: FakeArm
) -> None:
    loaded = load_config(copy_config("vnet", tmp_path))
    infra.provision(loaded, "prod", clients, poll_seconds=0.01)
    stacks = [r for r in arm.writes() if "/deploymentStacks/" in r.path]
    deny = {r.path.rsplit("-", 1)[1]: r.body["properties"]["denySettings"] for r in stacks}
    assert deny["prod"]["excludedActions"] == ["Microsoft.Insights/diagnosticSettings/write"]
    assert "excludedActions" not in deny["shared"]  # it assigns no policy
    managed = arm.stacks[("rg-contoso-churn-prod", "mlops-churn-prod")]["properties"]
    vault = next(r["id"] for r in managed["resources"] if "/Microsoft.KeyVault/vaults/" in r["id"])
    policy_identity = "0f000000-0000-4000-8000-0000000000a1"  # not an excluded principal

    # the policy's deployment writes a diagnostic setting onto the managed vault
    _write_as(arm, policy_identity, f"{vault}/providers/Microsoft.Insights/diagnosticSettings/x")
    # but the same principal still cannot touch the vault itself
    with pytest.raises(HttpResponseError) as refused:
        _write_as(arm, policy_identity, vault)
    assert refused.value.error.code == "DenyAssignmentAuthorizationFailed"


def test_the_roles_plan_leaves_the_policy_identities_roles_to_their_stack(
    vnet_project: LoadedConfig,
) -> None:
    model = role_model(vnet_project.config)
    scope = (
        "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-contoso-churn-dev"
    )
    seen = [
        ObservedAssignment(
            id=f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
            name=name,
            scope=scope,
            role_definition_id=f"/providers/Microsoft.Authorization/roleDefinitions/{role}",
            principal_id="0f000000-0000-4000-8000-0000000000a1",
            principal_type="ServicePrincipal",
            description=description,
        )
        for name, role, description in (
            (
                "8a3c7a5e-0000-4000-8000-000000000001",
                MONITORING_CONTRIBUTOR,
                "Deployed by an mlops stack: Monitoring Contributor for the policy assignment x",
            ),
            ("8a3c7a5e-0000-4000-8000-000000000002", MONITORING_CONTRIBUTOR, "by hand"),
        )
    ]

    changes = role_changes(model, model, {}, seen, [scope])

    listed = [change.resource_id for change, _ in changes if change.action == "unmanaged"]
    assert listed == [seen[1].id]
