"""Just-in-time elevation: PIM eligibility requests and the activation limit, against the fake."""

from __future__ import annotations

from pathlib import Path

from azure.mgmt.authorization.v2020_10_01.models import RoleEligibilityScheduleRequest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from mlops.rbac import builtin
from mlops.services import infra
from tests.infra.arm_fake import FakeArm
from tests.infra.conftest import copy_config

SUB = "22222222-2222-2222-2222-222222222222"
PROD_RG = f"/subscriptions/{SUB}/resourceGroups/rg-contoso-churn-prod"
ENGINEERS = "0b000000-0000-4000-8000-000000000002"


def _jit_project(tmp_path: Path) -> LoadedConfig:
    path = copy_config("vnet", tmp_path)
    path.write_text(
        path.read_text() + "governance: {just_in_time: {max_hours: 4, eligible_days: 180}}\n"
    )
    return load_config(path)


def _provision(loaded: LoadedConfig, clients: AzureClients) -> infra.ProvisionResult:
    return infra.provision(
        loaded, "prod", clients, poll_seconds=0.01, replication_delays=(0.0, 0.0, 0.0)
    )


def test_engineers_become_eligible_for_contributor_in_prod_for_at_most_the_declared_hours(
    tmp_path: Path, clients: AzureClients, arm: FakeArm
) -> None:
    loaded = _jit_project(tmp_path)

    _provision(loaded, clients)

    [request] = arm.eligibility_requests.values()
    body = RoleEligibilityScheduleRequest.deserialize(request)
    assert request["id"].lower().startswith(PROD_RG.lower() + "/providers/")
    assert body.principal_id == ENGINEERS
    assert body.role_definition_id.endswith(builtin.CONTRIBUTOR.id)
    assert body.request_type == "AdminAssign"
    assert body.schedule_info.expiration.duration == "P180D"
    # the activation itself is bounded by the role's PIM policy at that scope
    limits = [
        rule["maximumDuration"]
        for policy in arm.pim_policies.values()
        for rule in policy["properties"]["rules"]
        if rule["id"] == "Expiration_EndUser_Assignment"
    ]
    assert "PT4H" in limits
    # eligible is not standing: no Contributor assignment for the engineers anywhere
    standing = [
        a["properties"]
        for a in arm.role_assignments.values()
        if a["properties"]["principalId"] == ENGINEERS
    ]
    assert standing and all(
        not p["roleDefinitionId"].endswith(builtin.CONTRIBUTOR.id) for p in standing
    )


def test_a_second_provision_requests_nothing_again(
    tmp_path: Path, clients: AzureClients, arm: FakeArm
) -> None:
    loaded = _jit_project(tmp_path)
    _provision(loaded, clients)
    writes = len(arm.writes())

    again = _provision(loaded, clients)

    assert len(arm.writes()) == writes
    roles = again.plan.stack("roles")
    assert roles is not None and {c.action for c in roles.changes} == {"no-change"}


def test_without_just_in_time_nothing_is_asked_of_pim(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    _provision(vnet_project, clients)
    assert arm.eligibility_requests == {}
    assert not [r for r in arm.requests if "roleManagementPolic" in r.path]
