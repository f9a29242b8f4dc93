"""Re-provisioning a platform made with the previous role layout migrates it (contract test).

The previous layout, as mlops provisioned it before issue 16: engineers held Contributor and
AzureML Compute Operator on every resource group and Contributor on the shared one; every
persona and CI/CD identity held AzureML Registry User on the registry; each environment's
CI/CD identity held the Data Scientist role (AzureML Data Scientist minus exceptions) on its
workspace. It is written into the fake ARM here as literal data, not derived from the model.
"""

from __future__ import annotations

from typing import Any

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig
from mlops.rbac import builtin
from mlops.rbac.roles import derived_guid
from mlops.services import infra, rbac
from tests.infra.arm_fake import FakeArm

SUB = "22222222-2222-2222-2222-222222222222"
RGS = f"/subscriptions/{SUB}/resourceGroups"
OWNERS = "0a000000-0000-4000-8000-000000000001"
ENGINEERS = "0b000000-0000-4000-8000-000000000002"
SCIENTISTS = ("0c000000-0000-4000-8000-000000000003", "0c000000-0000-4000-8000-000000000004")
CICD = {
    "dev": "0d000000-0000-4000-8000-000000000005",
    "test": "0d000000-0000-4000-8000-000000000006",
    "prod": "0d000000-0000-4000-8000-000000000007",
}
ENVS = ("dev", "test", "prod")
OLD_DATA_SCIENTIST_PERMISSIONS = {
    "actions": [
        "Microsoft.MachineLearningServices/workspaces/read",
        "Microsoft.MachineLearningServices/workspaces/*/read",
        "Microsoft.MachineLearningServices/workspaces/*/action",
        "Microsoft.MachineLearningServices/workspaces/*/delete",
        "Microsoft.MachineLearningServices/workspaces/*/write",
    ],
    "notActions": [
        "Microsoft.MachineLearningServices/workspaces/delete",
        "Microsoft.MachineLearningServices/workspaces/write",
        "Microsoft.MachineLearningServices/workspaces/computes/*/write",
        "Microsoft.MachineLearningServices/workspaces/computes/*/delete",
        "Microsoft.MachineLearningServices/workspaces/computes/listKeys/action",
        "Microsoft.MachineLearningServices/workspaces/listKeys/action",
        "Microsoft.MachineLearningServices/workspaces/computes/write",
        "Microsoft.MachineLearningServices/workspaces/computes/delete",
    ],
    "dataActions": [],
    "notDataActions": [],
}
#: roles the new design gives nobody (the owners keep Contributor)
RETIRED = {
    builtin.AZUREML_REGISTRY_USER.id,
    builtin.AZUREML_COMPUTE_OPERATOR.id,
    builtin.AZUREML_DATA_SCIENTIST.id,
    builtin.READER.id,
}


def _old_layout(loaded: LoadedConfig, arm: FakeArm) -> None:
    """The platform's resource groups and resources as an earlier provision left them, and
    the previous role layout on them."""
    config = loaded.config
    for env in ENVS:
        for s in infra.select(loaded, env):
            arm.hold(s.resource_group, s.arm())
    ds_role = rbac.models(loaded, None)[1].custom_roles[0].role.id
    arm.role_definitions[ds_role] = {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{ds_role}",
        "name": ds_role,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": "contoso-churn Data Scientist",
            "description": "AzureML Data Scientist for the churn platform. Managed by mlops.",
            "type": "CustomRole",
            "permissions": [OLD_DATA_SCIENTIST_PERMISSIONS],
            "assignableScopes": [f"{RGS}/rg-contoso-churn-{env}" for env in ENVS],
        },
    }
    shared = config.shared_names()
    registry = (
        f"{RGS}/{shared.resource_group}/providers/Microsoft.MachineLearningServices"
        f"/registries/{shared.registry}"
    )

    def made(scope: str, role: str, principal: str, kind: str, who: str, env: str) -> None:
        name = derived_guid(scope, principal, role)
        rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
        arm.role_assignments[rid.lower()] = {
            "id": rid,
            "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "scope": scope,
                "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization"
                f"/roleDefinitions/{role}",
                "principalId": principal,
                "principalType": kind,
                "description": f"Managed by mlops: {who} in {env}",
            },
        }

    for index, env in enumerate(ENVS):
        names = config.environment_names(env)
        rg = f"{RGS}/{names.resource_group}"
        workspace = f"{rg}/providers/Microsoft.MachineLearningServices/workspaces/{names.workspace}"
        storage = f"{rg}/providers/Microsoft.Storage/storageAccounts/{names.storage_account}"
        made(rg, builtin.CONTRIBUTOR.id, OWNERS, "Group", "platform_owners", env)
        made(rg, builtin.CONTRIBUTOR.id, ENGINEERS, "Group", "platform_engineers", env)
        made(rg, builtin.AZUREML_COMPUTE_OPERATOR.id, ENGINEERS, "Group", "platform_engineers", env)
        for group in SCIENTISTS:
            if index == 0:
                made(workspace, ds_role, group, "Group", "data_scientists", env)
                made(
                    storage,
                    builtin.STORAGE_BLOB_DATA_CONTRIBUTOR.id,
                    group,
                    "Group",
                    "data_scientists",
                    env,
                )
            else:
                made(rg, builtin.READER.id, group, "Group", "data_scientists", env)
        made(workspace, ds_role, CICD[env], "ServicePrincipal", "cicd", env)
        made(registry, builtin.AZUREML_REGISTRY_USER.id, CICD[env], "ServicePrincipal", "cicd", env)
    shared_rg = f"{RGS}/{shared.resource_group}"
    made(shared_rg, builtin.CONTRIBUTOR.id, OWNERS, "Group", "platform_owners", "shared")
    made(shared_rg, builtin.CONTRIBUTOR.id, ENGINEERS, "Group", "platform_engineers", "shared")
    for group in SCIENTISTS:
        made(
            registry, builtin.AZUREML_REGISTRY_USER.id, group, "Group", "data_scientists", "shared"
        )


def _roles(arm: FakeArm) -> list[dict[str, Any]]:
    return [a["properties"] for a in arm.role_assignments.values()]


def _guid(role_definition_id: str) -> str:
    return role_definition_id.rsplit("/", 1)[-1].lower()


def test_reprovisioning_the_previous_layout_leaves_exactly_the_new_design(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    _old_layout(vnet_project, arm)
    before = len(arm.role_assignments)

    for env in ENVS:
        infra.provision(
            vnet_project, env, clients, poll_seconds=0.01, replication_delays=(0.0, 0.0, 0.0)
        )

    full = rbac.models(vnet_project, None)[1]
    declared = {(a.scope.lower(), a.principal.object_id, a.grant.role.id) for a in full.standing}
    held = {
        (p["scope"].lower(), p["principalId"], _guid(p["roleDefinitionId"])) for p in _roles(arm)
    }
    # nothing is left with more rights than the new design: every assignment is declared
    assert held == declared
    assert before > 0 and not [p for p in _roles(arm) if _guid(p["roleDefinitionId"]) in RETIRED]
    engineers = {_guid(p["roleDefinitionId"]) for p in _roles(arm) if p["principalId"] == ENGINEERS}
    assert builtin.CONTRIBUTOR.id not in engineers
    # the CI/CD identities now hold their purpose's role: training in dev, deployment later
    by_principal = {
        who: {_guid(p["roleDefinitionId"]) for p in _roles(arm) if p["principalId"] == oid}
        for who, oid in CICD.items()
    }
    roles = {c.key: c.role.id for c in full.custom_roles}
    assert roles["data-scientist"] in by_principal["dev"]
    assert roles["deployer"] in by_principal["prod"]
    assert roles["data-scientist"] not in by_principal["prod"]
    # the custom role was updated in place: same id, the new allow-list
    stored = arm.role_definitions[roles["data-scientist"]]["properties"]["permissions"][0]
    assert "Microsoft.MachineLearningServices/workspaces/*/action" not in stored["actions"]
    # the owners' delegation now also names the principals they may assign to
    admin = [
        p for p in _roles(arm) if _guid(p["roleDefinitionId"]) == builtin.RBAC_ADMINISTRATOR.id
    ]
    assert admin and all("roleAssignments:PrincipalId" in p["condition"] for p in admin)


def test_the_migration_creates_the_new_assignments_before_it_removes_the_old_ones(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    _old_layout(vnet_project, arm)

    infra.provision(
        vnet_project, "prod", clients, poll_seconds=0.01, replication_delays=(0.0, 0.0, 0.0)
    )

    writes = [
        (r.method, r.path)
        for r in arm.requests
        if "/roleAssignments/" in r.path and r.method in ("PUT", "DELETE")
    ]
    methods = [m for m, _ in writes]
    assert "DELETE" in methods and "PUT" in methods
    assert methods.index("DELETE") > max(i for i, m in enumerate(methods) if m == "PUT")
    deleted = {p.lower() for m, p in writes if m == "DELETE"}
    assert all(p not in arm.role_assignments for p in deleted)
    # a second run finds nothing left to do
    again = infra.plan(vnet_project, "prod", clients).stack("roles")
    assert again is not None and {c.action for c in again.changes} == {"no-change"}
