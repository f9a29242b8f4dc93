"""With teams declared, the platform's own data scientists (`identities.data_scientists`) read
only the platform's workspace in the later environments, not the resource group that holds
every team's workspace; a platform provisioned with the resource-group Reader loses it on
the next provision."""

from __future__ import annotations

from pathlib import Path

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import load_config
from mlops.rbac.roles import derived_guid
from mlops.services import infra, rbac
from tests.infra.arm_fake import FakeCredential
from tests.teams_infra.conftest import loaded
from tests.teams_infra.quota_fake import FakeAzure

SUB = "22222222-2222-2222-2222-222222222222"
PLATFORM_DS = "0c000000-0000-4000-8000-0000000000e1"
SCIENTISTS = f"  data_scientists: [{{name: sg-platform-ds, object_id: {PLATFORM_DS}}}]\n"


def _held(azure: FakeAzure) -> set[tuple[str, str]]:
    """(scope's last segment, role id) of every assignment the platform's data scientists hold."""
    return {
        (p["scope"].rstrip("/").rsplit("/", 1)[-1], p["roleDefinitionId"].rsplit("/", 1)[-1])
        for a in azure.arm.role_assignments.values()
        if (p := a["properties"])["principalId"] == PLATFORM_DS
    }


def test_the_resource_group_reader_of_an_earlier_provision_is_replaced_by_the_workspaces(
    tmp_path: Path,
) -> None:
    text = loaded("teams", tmp_path).path.read_text()
    (tmp_path / "mlops.yaml").write_text(
        text.replace("\nidentities:\n", "\nidentities:\n" + SCIENTISTS, 1)
    )
    project = load_config(tmp_path / "mlops.yaml")
    azure = FakeAzure()
    clients = AzureClients(FakeCredential(), azure, {"polling_interval": 0})
    infra.provision(project, "test", clients, poll_seconds=0.01, replication_delays=(0.0,))
    names = project.config.environment_names("test")
    reader = {c.key: c.role.id for c in rbac.models(project, None)[1].custom_roles}["reader"]
    assert _held(azure) >= {(names.workspace, reader)}
    assert (names.resource_group, reader) not in _held(azure)
    # as a provision before this change left it: Reader on the whole resource group
    scope = f"/subscriptions/{SUB}/resourceGroups/{names.resource_group}"
    name = derived_guid(scope, PLATFORM_DS, reader)
    rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
    azure.arm.role_assignments[rid.lower()] = {
        "id": rid,
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "scope": scope,
            "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization"
            f"/roleDefinitions/{reader}",
            "principalId": PLATFORM_DS,
            "principalType": "Group",
            "description": "Managed by mlops: data_scientists in test",
        },
    }

    plan = infra.plan(project, "test", clients)

    roles = plan.stack("roles")
    assert roles is not None
    deletes = [c for c in roles.changes if c.action == "delete"]
    assert [c.resource_id for c in deletes] == [rid]
    infra.provision(project, "test", clients, poll_seconds=0.01, replication_delays=(0.0,))
    assert (names.resource_group, reader) not in _held(azure)
    assert (names.workspace, reader) in _held(azure)
    assert not infra.plan(project, "test", clients).has_changes
