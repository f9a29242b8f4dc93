"""What each persona may do in each environment, decided as Azure RBAC decides it."""

from __future__ import annotations

import pytest

from mlops.config.loader import LoadedConfig
from mlops.rbac import builtin
from mlops.rbac.check import check
from mlops.rbac.model import data_scientist_role, role_model
from mlops.rbac.permissions import Permission, matches

ML = "Microsoft.MachineLearningServices/workspaces"
OPERATIONS = {
    "compute write": f"{ML}/computes/write",
    "compute delete": f"{ML}/computes/delete",
    "workspace write": f"{ML}/write",
    "list keys": f"{ML}/listKeys/action",
    "job submit": f"{ML}/jobs/write",
    "model register": f"{ML}/models/versions/write",
    "online endpoint write": f"{ML}/onlineEndpoints/write",
    "role assignment write": "Microsoft.Authorization/roleAssignments/write",
}
EVERYWHERE, DEV_ONLY, NOWHERE = ("dev", "test", "prod"), ("dev",), ()

#: (persona, operation) -> the environments where it is allowed
POLICY = {
    **{("platform_owners", op): EVERYWHERE for op in OPERATIONS},
    **{("platform_engineers", op): EVERYWHERE for op in OPERATIONS},
    ("platform_engineers", "role assignment write"): NOWHERE,
    ("data_scientists", "compute write"): NOWHERE,
    ("data_scientists", "compute delete"): NOWHERE,
    ("data_scientists", "workspace write"): NOWHERE,
    ("data_scientists", "list keys"): NOWHERE,
    ("data_scientists", "job submit"): DEV_ONLY,
    ("data_scientists", "model register"): DEV_ONLY,
    ("data_scientists", "online endpoint write"): DEV_ONLY,
    ("data_scientists", "role assignment write"): NOWHERE,
    # each environment's pipeline identity works in its own workspace and manages nothing
    ("cicd", "compute write"): NOWHERE,
    ("cicd", "compute delete"): NOWHERE,
    ("cicd", "workspace write"): NOWHERE,
    ("cicd", "list keys"): NOWHERE,
    ("cicd", "job submit"): EVERYWHERE,
    ("cicd", "model register"): EVERYWHERE,
    ("cicd", "online endpoint write"): EVERYWHERE,
    ("cicd", "role assignment write"): NOWHERE,
}


@pytest.mark.parametrize("env", ["dev", "test", "prod"])
@pytest.mark.parametrize(("persona", "operation"), sorted(POLICY))
def test_each_persona_may_do_exactly_what_the_governance_table_says(
    vnet_project: LoadedConfig, persona: str, operation: str, env: str
) -> None:
    config = vnet_project.config
    verdict = check(config, role_model(config), persona, OPERATIONS[operation], env)
    assert verdict.allowed is (env in POLICY[(persona, operation)])


def test_platform_owners_may_assign_only_the_platforms_roles_never_owner_or_their_own(
    vnet_project: LoadedConfig,
) -> None:
    config = vnet_project.config
    write = OPERATIONS["role assignment write"]
    verdict = check(config, role_model(config), "platform_owners", write, "prod")
    assert verdict.allowed
    assert "Contributor" in verdict.conditions
    assert "contoso-churn Data Scientist" in verdict.conditions
    privileged = ("Owner", "User Access Administrator", "Role Based Access Control Administrator")
    assert not set(privileged) & set(verdict.conditions)
    grant = next(g for g in verdict.granting)
    condition = grant.condition() or ""
    assert builtin.OWNER.id not in condition and builtin.RBAC_ADMINISTRATOR.id not in condition
    assert "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId]" in condition


def test_the_built_in_data_scientist_role_alone_would_let_compute_be_created(
    vnet_project: LoadedConfig,
) -> None:
    """Why the custom role lists the literal operations: `computes/*/write` does not match
    `computes/write`, so AzureML Data Scientist's own `workspaces/*/write` grants it."""
    create = OPERATIONS["compute write"]
    assert builtin.AZUREML_DATA_SCIENTIST.decide(create, data=False).allowed
    custom = data_scientist_role(vnet_project.config)
    decision = custom.decide(create, data=False)
    assert not decision.allowed
    assert decision.excluded_by == create
    not_actions = custom.permission.not_actions
    for form in ("computes/write", "computes/delete", "computes/*/write", "computes/*/delete"):
        assert f"{ML}/{form}" in not_actions
    assert custom.decide(f"{ML}/computes/start/action", data=False).allowed  # use, not create


def test_data_actions_are_granted_only_by_data_actions(vnet_project: LoadedConfig) -> None:
    config = vnet_project.config
    model = role_model(config)
    read_blob = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
    assert check(config, model, "data_scientists", read_blob, "dev").allowed
    assert not check(config, model, "data_scientists", read_blob, "prod").allowed
    # Contributor's `*` is a control-plane wildcard: it reads no blob
    verdict = check(config, model, "platform_owners", read_blob, "dev")
    assert verdict.data and not verdict.allowed


def test_every_persona_reads_promoted_models_from_the_shared_registry(
    vnet_project: LoadedConfig,
) -> None:
    config = vnet_project.config
    model = role_model(config)
    read = "Microsoft.MachineLearningServices/registries/assets/read"
    for persona in ("platform_owners", "platform_engineers", "data_scientists", "cicd"):
        verdict = check(config, model, persona, read, "prod")
        assert verdict.allowed, persona
        assert verdict.target.kind == "registry"


@pytest.mark.parametrize(
    ("pattern", "operation", "expected"),
    [
        ("*", "Microsoft.Compute/virtualMachines/write", True),
        ("*/read", "Microsoft.Compute/virtualMachines/read", True),
        ("*/read", "Microsoft.Compute/virtualMachines/write", False),
        (f"{ML}/*/write", f"{ML}/computes/write", True),
        (f"{ML}/*/write", f"{ML}/write", False),  # the wildcard needs a segment between
        (f"{ML}/computes/*/write", f"{ML}/computes/write", False),
        (f"{ML}/computes/*/write", f"{ML}/computes/applicationaccess/write", True),
        ("Microsoft.Authorization/*/Write", "microsoft.authorization/roleassignments/write", True),
    ],
)
def test_action_patterns_match_as_azure_matches_them(
    pattern: str, operation: str, expected: bool
) -> None:
    assert matches(pattern, operation) is expected


def test_not_actions_subtract_from_their_own_role_only() -> None:
    reader_of_all = Permission(actions=("*",), not_actions=(f"{ML}/computes/*",))
    assert not reader_of_all.decide(f"{ML}/computes/read", data=False).allowed
    operator = builtin.AZUREML_COMPUTE_OPERATOR
    assert operator.decide(f"{ML}/computes/read", data=False).allowed


def test_assignment_names_are_uuid5_of_scope_principal_and_role(
    vnet_project: LoadedConfig,
) -> None:
    first = role_model(vnet_project.config)
    again = role_model(vnet_project.config)
    names = [a.name for a in first.assignments]
    assert names == [a.name for a in again.assignments]
    assert len(set(names)) == len(names)
    other = vnet_project.config.model_copy(deep=True)
    other.azure.subscription_id = "99999999-9999-9999-9999-999999999999"
    moved = role_model(other)
    assert not set(names) & {a.name for a in moved.assignments}
    # the custom role keeps its id wherever it is deployed: its scopes are updated in place
    assert moved.custom_roles[0].role.id == first.custom_roles[0].role.id
