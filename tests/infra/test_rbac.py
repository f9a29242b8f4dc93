"""Roles through the real `azure-mgmt-authorization` client against a fake that answers like ARM."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.mgmt.authorization.models import RoleAssignmentCreateParameters, RoleDefinition

from mlops.backends.azure.clients import AzureClients
from mlops.cli.rbac import markdown
from mlops.config.loader import LoadedConfig, load_config
from mlops.errors import BackendError
from mlops.plan.roles import definition_properties
from mlops.rbac import builtin
from mlops.render.roles import role_template
from mlops.services import infra, rbac
from tests.conftest import run_cli
from tests.infra.arm_fake import FakeArm, Fault
from tests.infra.conftest import copy_config

SUB = "22222222-2222-2222-2222-222222222222"
DEV_RG = f"/subscriptions/{SUB}/resourceGroups/rg-contoso-churn-dev"
DATA_SCIENTISTS = "0c000000-0000-4000-8000-000000000003"


def _provision(loaded: LoadedConfig, clients: AzureClients, **kwargs) -> infra.ProvisionResult:
    kwargs.setdefault("replication_delays", (0.0, 0.0, 0.0))
    return infra.provision(loaded, "dev", clients, poll_seconds=0.01, **kwargs)


def _role_writes(arm: FakeArm) -> list:
    return [r for r in arm.writes() if "/Microsoft.Authorization/" in r.path]


def test_provision_creates_the_custom_roles_then_every_declared_assignment(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    result = _provision(vnet_project, clients)

    writes = _role_writes(arm)
    customs = rbac.models(vnet_project, "dev")[0].custom_roles
    definitions, assignments = writes[: len(customs)], writes[len(customs) :]
    assert all("/roleDefinitions/" in w.path for w in definitions)
    assert all("/roleAssignments/" in w.path for w in assignments)
    # the bodies are what the SDK's own models read (the fake refuses unknown or read-only
    # fields), and each role is the one rendered to infra/roles
    for custom, write in zip(customs, definitions, strict=True):
        definition = RoleDefinition.deserialize(write.body)
        assert definition.role_type == "CustomRole"
        envs = ("dev", "test", "prod") if "Registry" not in custom.role.name else ("shared",)
        assert definition.assignable_scopes == [
            f"/subscriptions/{SUB}/resourceGroups/rg-contoso-churn-{env}" for env in envs
        ]
        rendered = role_template(custom)["resources"][0]
        assert write.path.endswith(f"/roleDefinitions/{rendered['name']}")
        assert write.body["properties"]["permissions"] == rendered["properties"]["permissions"]
    declared = rbac.models(vnet_project, "dev")[0].assignments
    assert sorted(w.path.rsplit("/", 1)[1] for w in assignments) == sorted(a.name for a in declared)
    sent = {
        w.path.rsplit("/", 1)[1]: RoleAssignmentCreateParameters.deserialize(w.body)
        for w in assignments
    }
    for assignment in declared:
        body = sent[assignment.name]
        assert body.principal_id == assignment.principal.object_id
        assert body.principal_type == assignment.principal.type
        assert body.role_definition_id.endswith(assignment.grant.role.id)
        has_condition = assignment.grant.role is builtin.RBAC_ADMINISTRATOR
        assert (body.condition is not None) is has_condition
        assert (body.condition_version == "2.0") is has_condition
    assert result.role_writes == len(writes)
    assert result.applied[-1] == "roles"


def test_an_unchanged_second_apply_sends_no_write(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    _provision(vnet_project, clients)
    writes = len(arm.writes())

    again = _provision(vnet_project, clients)

    assert len(arm.writes()) == writes
    roles = again.plan.stack("roles")
    assert roles is not None and {c.action for c in roles.changes} == {"no-change"}
    assert again.applied == []


def test_replication_delay_is_waited_out_then_the_assignment_is_made(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    arm.replicating[DATA_SCIENTISTS] = 2  # a group created a moment ago
    events: list[tuple[str, str, str]] = []

    _provision(vnet_project, clients, on_event=lambda *e: events.append(e))

    tries = [
        w
        for w in _role_writes(arm)
        if w.body and w.body["properties"].get("principalId") == DATA_SCIENTISTS
    ]
    per_assignment = {w.path for w in tries}
    assert len(tries) == len(per_assignment) + 2  # two refusals, then each one made
    waits = [d for s, e, d in events if e == "waiting"]
    assert len(waits) == 2 and "sg-ml-data-scientists" in waits[0]
    assert all(a["properties"]["principalId"] for a in arm.role_assignments.values())
    assert sum(
        a["properties"]["principalId"] == DATA_SCIENTISTS for a in arm.role_assignments.values()
    ) == len(per_assignment)


def test_a_principal_that_never_replicates_fails_with_where_it_is_declared(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    arm.replicating[DATA_SCIENTISTS] = 99

    with pytest.raises(BackendError) as failed:
        _provision(vnet_project, clients, replication_delays=(0.0, 0.0))

    message = failed.value.message
    assert "still not found in Microsoft Entra ID after 3 tries" in message
    assert "sg-ml-data-scientists" in message
    assert "re-run `mlops provision`" in (failed.value.hint or "")


def test_an_assignment_made_by_hand_for_a_declared_role_counts_as_done(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    _provision(vnet_project, clients)
    owners = "0a000000-0000-4000-8000-000000000001"
    made = next(
        key
        for key, a in arm.role_assignments.items()
        if a["properties"]["principalId"] == owners
        and a["properties"]["scope"] == DEV_RG
        and a["properties"]["roleDefinitionId"].endswith(builtin.CONTRIBUTOR.id)
    )
    del arm.role_assignments[made]  # as if someone had made it by hand, under another name
    by_hand = arm.add_assignment(DEV_RG, builtin.CONTRIBUTOR.id, owners, "Group")

    fresh = infra.plan(vnet_project, "dev", clients)

    roles = fresh.stack("roles")
    assert roles is not None
    adopted = [c for c in roles.changes if c.resource_id == by_hand]
    assert [c.action for c in adopted] == ["no-change"]
    assert {c.action for c in roles.changes} == {"no-change"}
    writes = len(arm.writes())
    _provision(vnet_project, clients)
    assert len(arm.writes()) == writes


def test_unmanaged_assignments_are_planned_and_removed_only_with_prune(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    _provision(vnet_project, clients)
    someone = arm.add_assignment(
        DEV_RG, builtin.OWNER.id, "0e000000-0000-4000-8000-00000000000e", "User"
    )
    storage = f"{DEV_RG}/providers/Microsoft.Storage/storageAccounts/stcontosochurndev"
    workspace_identity = arm.add_assignment(
        storage,
        builtin.STORAGE_BLOB_DATA_CONTRIBUTOR.id,
        "0f000000-0000-4000-8000-00000000000f",
        "ServicePrincipal",
    )
    inherited = arm.add_assignment(
        f"/subscriptions/{SUB}", builtin.READER.id, "0e000000-0000-4000-8000-0000000000aa", "Group"
    )

    roles = infra.plan(vnet_project, "dev", clients).stack("roles")

    assert roles is not None
    unmanaged = {c.resource_id: c for c in roles.changes if c.action == "unmanaged"}
    assert set(unmanaged) == {someone, workspace_identity}  # not the subscription's
    assert unmanaged[someone].prunable and "Owner -> User" in unmanaged[someone].name
    assert not unmanaged[workspace_identity].prunable

    _provision(vnet_project, clients)
    assert not [r for r in arm.requests if r.method == "DELETE"]
    assert someone.lower() in arm.role_assignments

    pruned = _provision(vnet_project, clients, prune=True)

    deletes = [r.path for r in arm.requests if r.method == "DELETE"]
    assert deletes == [someone]
    assert workspace_identity.lower() in arm.role_assignments
    assert inherited.lower() in arm.role_assignments
    assert pruned.role_writes == 1


def test_a_group_removed_from_mlops_yaml_loses_what_mlops_gave_it(
    tmp_path: Path, clients: AzureClients, arm: FakeArm
) -> None:
    path = copy_config("vnet", tmp_path)
    _provision(load_config(path), clients)
    text = path.read_text()
    path.write_text(
        text.replace(
            "    - {name: sg-ml-churn-team, object_id: 0c000000-0000-4000-8000-000000000004}\n", ""
        )
    )
    loaded = load_config(path)

    roles = infra.plan(loaded, "dev", clients).stack("roles")

    assert roles is not None
    deletes = [c for c in roles.changes if c.action == "delete"]
    assert len(deletes) == 3  # workspace, storage and registry
    assert all("0c000000-0000-4000-8000-000000000004" in c.name for c in deletes)
    _provision(loaded, clients)
    remaining = [a["properties"]["principalId"] for a in arm.role_assignments.values()]
    assert "0c000000-0000-4000-8000-000000000004" not in remaining


def test_a_custom_role_changed_in_azure_is_planned_as_a_modify_and_put_back(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    _provision(vnet_project, clients)
    custom = rbac.models(vnet_project, "dev")[0].custom_roles[0]
    stored = arm.role_definitions[custom.role.id]["properties"]
    stored["permissions"][0]["actions"].append(
        "Microsoft.MachineLearningServices/workspaces/computes/write"
    )

    roles = infra.plan(vnet_project, "dev", clients).stack("roles")

    assert roles is not None
    [modified] = [c for c in roles.changes if c.action == "modify"]
    assert modified.type == "Microsoft.Authorization/roleDefinitions"
    assert [p.path for p in modified.properties] == ["permissions"]
    _provision(vnet_project, clients)
    assert stored != definition_properties(custom)
    assert (
        arm.role_definitions[custom.role.id]["properties"]["permissions"]
        == (definition_properties(custom)["permissions"])
    )


def test_plan_lists_unmanaged_assignments_and_says_what_prune_does(
    vnet_project: LoadedConfig,
    clients: AzureClients,
    arm: FakeArm,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mlops.cli.infra import show_plan

    _provision(vnet_project, clients)
    arm.add_assignment(DEV_RG, builtin.OWNER.id, "0e000000-0000-4000-8000-00000000000e", "User")

    show_plan(infra.plan(vnet_project, "dev", clients))

    out = capsys.readouterr().out
    assert "roles: role definitions and assignments" in out
    assert "x unmanaged" in out and "(removed by --prune)" in out


def test_offline_plan_lists_the_custom_roles_and_every_assignment(
    vnet_project: LoadedConfig,
) -> None:
    plan = infra.offline_plan(vnet_project, "dev", "--offline")
    roles = plan.stack("roles")
    assert roles is not None
    declared = rbac.models(vnet_project, "dev")[0]
    assert len(roles.changes) == len(declared.custom_roles) + len(declared.assignments)
    assert {c.action for c in roles.changes} == {"create"}


def test_rbac_matrix_for_auditors_as_json_and_markdown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config("vnet", tmp_path)
    monkeypatch.chdir(tmp_path)

    rows = run_cli("rbac", "matrix", "--env", "prod", "-o", "json").json()

    assert {r["env"] for r in rows} == {"prod", "shared"}
    reader = next(r for r in rows if r["persona"] == "data_scientists" and r["env"] == "prod")
    assert reader["role"] == "contoso-churn Reader"
    assert reader["principals"] == ["sg-ml-data-scientists", "sg-ml-churn-team"]
    deployer = next(r for r in rows if r["persona"] == "deployment" and r["env"] == "prod")
    assert deployer["role"] == "contoso-churn Deployer" and deployer["principals"] == ["cicd-prod"]
    markdown = run_cli("rbac", "matrix", "--output", "markdown").stdout
    assert markdown.startswith("| persona | env | scope | role | held by |")
    assert "with a condition: its holders may assign only" in markdown
    assert "only to the principals mlops.yaml declares" in markdown
    # the control Azure does not offer is said where auditors look
    assert "Serverless compute: Azure RBAC has no operation" in markdown
    assert "refused by `mlops run --env` only, not by Azure" in markdown


def test_rbac_check_exits_0_when_allowed_3_when_denied_and_2_for_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config("vnet", tmp_path)
    monkeypatch.chdir(tmp_path)
    create = "Microsoft.MachineLearningServices/workspaces/computes/write"

    denied = run_cli("rbac", "check", "data_scientists", create, "--env", "dev")
    allowed = run_cli(
        "rbac", "check", "data-scientists", create.replace("computes", "jobs"), "-e", "dev"
    )
    as_json = run_cli("rbac", "check", "platform_engineers", create, "-e", "prod", "-o", "json")

    assert denied.exit_code == 3
    assert "contoso-churn Data Scientist at workspace mlw-contoso-churn-dev" in denied.stdout
    assert allowed.exit_code == 0 and "allowed" in allowed.stdout
    assert "Serverless compute: Azure RBAC has no operation" in allowed.stdout
    assert as_json.exit_code == 0 and as_json.json()["allowed"] is True
    assert run_cli("rbac", "check", "interns", create, "-e", "dev").exit_code == 2
    assert run_cli("rbac", "check", "training", create, "-e", "staging").exit_code == 2


def test_rbac_check_exits_2_for_wildcards_and_overrides_that_contradict_microsoft(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config("vnet", tmp_path)
    monkeypatch.chdir(tmp_path)
    blob = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
    secret = "Microsoft.KeyVault/vaults/secrets/write"

    wildcard = run_cli(
        "rbac",
        "check",
        "data_scientists",
        "Microsoft.MachineLearningServices/workspaces/computes/*",
        "-e",
        "dev",
    )
    blob_as_control = run_cli("rbac", "check", "platform_owners", blob, "-e", "dev", "--control")
    secret_write = run_cli("rbac", "check", "platform_owners", secret, "-e", "dev", "-o", "json")

    assert wildcard.exit_code == 2 and "wildcard" in wildcard.stderr
    assert blob_as_control.exit_code == 2 and "is a data action" in blob_as_control.stderr
    # a control-plane action that Contributor's `*` grants: set a secret's value via ARM
    assert secret_write.exit_code == 0
    verdict = secret_write.json()
    assert verdict["data_action"] is False and verdict["allowed"] is True
    assert verdict["classified_by"].startswith("https://learn.microsoft.com/")


def test_the_readme_carries_the_matrix_of_this_repositorys_config() -> None:
    root = Path(__file__).parents[2]
    rows = rbac.matrix(load_config(root / "mlops.yaml"), None)
    text = (root / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- rbac-matrix:start -->\n", "<!-- rbac-matrix:end -->"
    assert text.split(start)[1].split(end)[0] == markdown(rows), (
        "README is stale: paste `mlops rbac matrix -o markdown` between the markers"
    )


def test_throttling_and_server_errors_on_role_calls_are_retried(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    _provision(vnet_project, clients)
    arm.role_assignments.pop(next(iter(arm.role_assignments)))  # removed by someone
    arm.faults += [
        Fault("GET", r"/roleDefinitions/", 429),
        Fault("GET", r"/roleAssignments$", 500),
        Fault("PUT", r"/roleAssignments/", 503, times=2),
    ]

    result = _provision(vnet_project, clients)

    assert result.applied == ["roles"] and result.role_writes == 1
    assert [f.times for f in arm.faults] == [0, 0, 0]
    declared = rbac.models(vnet_project, "dev")[0].assignments
    assert len(arm.role_assignments) == len(declared)
