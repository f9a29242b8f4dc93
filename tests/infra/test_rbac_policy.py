"""What each persona and identity may do in each environment, decided as Azure RBAC decides it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.config.loader import LoadedConfig, load_config
from mlops.errors import BadInputError
from mlops.rbac import builtin
from mlops.rbac.check import check, classify
from mlops.rbac.model import ALL_PERSONAS, data_scientist_role, role_model
from mlops.rbac.permissions import Permission, matches
from tests.infra.conftest import copy_config

ML = "Microsoft.MachineLearningServices/workspaces"
REGISTRY = "Microsoft.MachineLearningServices/registries"
ENVS = ("dev", "test", "prod")

#: every operation issue 16's review found allowed where it must not be, by family
NETWORK = {
    "outbound rule write": f"{ML}/outboundRules/write",
    "private endpoint connection write": f"{ML}/privateEndpointConnections/write",
    "private endpoint approval": f"{ML}/privateEndpointConnectionsApproval/action",
    "managed network provisioning": f"{ML}/provisionManagedNetwork/action",
}
SECRETS = {
    "storage account keys": f"{ML}/listStorageAccountKeys/action",
    "connection secrets": f"{ML}/connections/listsecrets/action",
    "datastore secrets": f"{ML}/datastores/listsecrets/action",
    "online endpoint keys": f"{ML}/onlineendpoints/listkeys/action",
    "online endpoint token": f"{ML}/onlineendpoints/token/action",
    "workspace keys": f"{ML}/listKeys/action",
    "notebook keys": f"{ML}/listNotebookKeys/read",
}
COMPUTE = {
    "compute create": f"{ML}/computes/write",
    "compute delete": f"{ML}/computes/delete",
    "online deployment write": f"{ML}/onlineEndpoints/deployments/write",
    "online endpoint write": f"{ML}/onlineEndpoints/write",
    "batch deployment write": f"{ML}/batchEndpoints/deployments/write",
    "serverless endpoint write": f"{ML}/serverlessEndpoints/write",
}
REGISTRY_WRITES = {
    "registry asset write": f"{REGISTRY}/assets/write",
    "registry asset delete": f"{REGISTRY}/assets/delete",
    "registry private endpoint approval": f"{REGISTRY}/privateEndpointConnectionsApproval/action",
}
FORBIDDEN = {**NETWORK, **SECRETS, **COMPUTE, **REGISTRY_WRITES}

#: the only exceptions, each someone's job: (persona, operation) -> environments allowed
JOB = {
    # operators shift traffic, scale and roll back deployments, and scale existing clusters
    ("platform_engineers", "online endpoint write"): ENVS,
    ("platform_engineers", "online deployment write"): ENVS,
    ("platform_engineers", "compute create"): ENVS,  # RBAC cannot tell a scale from a create
    # each later environment's deployment identity deploys there
    ("deployment", "online endpoint write"): ("test", "prod"),
    ("deployment", "online deployment write"): ("test", "prod"),
    # its smoke tests on Kubernetes endpoints (which take no Entra token) use an Azure ML token
    ("deployment", "online endpoint token"): ("test", "prod"),
    # promotion writes the registry, and is the only one who does
    ("promotion", "registry asset write"): ENVS,
}
GOVERNORS = ("platform_owners",)  # Contributor: they govern the platform (README, residual risks)


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("persona", [p for p in ALL_PERSONAS if p not in GOVERNORS])
@pytest.mark.parametrize("operation", sorted(FORBIDDEN))
def test_no_persona_or_identity_creates_compute_changes_the_network_or_reads_secrets(
    vnet_project: LoadedConfig, persona: str, operation: str, env: str
) -> None:
    config = vnet_project.config
    verdict = check(config, role_model(config), persona, FORBIDDEN[operation], env)
    assert verdict.allowed is (env in JOB.get((persona, operation), ())), verdict.to_dict()


@pytest.mark.parametrize(
    ("persona", "operation", "env", "target"),
    [
        # the data scientist submits a job to an existing cluster, and registers its model
        ("data_scientists", f"{ML}/jobs/write", "dev", "workspace"),
        ("data_scientists", f"{ML}/models/versions/write", "dev", "workspace"),
        ("data_scientists", f"{ML}/computes/read", "dev", "workspace"),
        ("training", f"{ML}/jobs/write", "dev", "workspace"),
        ("training", f"{ML}/models/versions/write", "dev", "workspace"),
        # the deployment identity updates its endpoint and smoke-tests it with a token
        ("deployment", f"{ML}/onlineEndpoints/write", "prod", "workspace"),
        ("deployment", f"{ML}/onlineEndpoints/score/action", "prod", "workspace"),
        ("deployment", f"{REGISTRY}/assets/read", "prod", "registry"),
        # the promotion identity writes the registry
        ("promotion", f"{REGISTRY}/assets/write", "dev", "registry"),
        ("promotion", f"{ML}/models/versions/read", "dev", "workspace"),
        # the operator shifts traffic, stops a cluster, cancels a job
        ("platform_engineers", f"{ML}/onlineEndpoints/write", "prod", "workspace"),
        ("platform_engineers", f"{ML}/computes/stop/action", "prod", "workspace"),
        ("platform_engineers", f"{ML}/jobs/cancel/action", "prod", "workspace"),
    ],
)
def test_each_persona_and_identity_may_do_its_real_work(
    vnet_project: LoadedConfig, persona: str, operation: str, env: str, target: str
) -> None:
    config = vnet_project.config
    verdict = check(config, role_model(config), persona, operation, env)
    assert verdict.allowed, verdict.to_dict()
    assert verdict.target.kind == target


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize(
    "operation",
    [
        f"{ML}/jobs/write",
        f"{ML}/models/versions/write",
        f"{ML}/data/versions/write",
        f"{ML}/environments/versions/write",
    ],
)
def test_data_scientists_work_in_dev_only_and_read_elsewhere(
    vnet_project: LoadedConfig, operation: str, env: str
) -> None:
    config = vnet_project.config
    model = role_model(config)
    assert check(config, model, "data_scientists", operation, env).allowed is (env == "dev")
    assert check(config, model, "data_scientists", f"{ML}/jobs/read", env).allowed


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize(
    "operation",
    [
        "Microsoft.Storage/storageAccounts/write",  # re-enable shared keys...
        "Microsoft.Storage/storageAccounts/listKeys/action",  # ...then read them
        "Microsoft.Network/networkSecurityGroups/securityRules/write",
        "Microsoft.Network/privateEndpoints/write",
        "Microsoft.KeyVault/vaults/secrets/write",
        "Microsoft.KeyVault/vaults/accessPolicies/write",
        "Microsoft.Authorization/roleAssignments/write",
        f"{ML}/write",
    ],
)
def test_platform_engineers_hold_no_network_storage_key_vault_or_rbac_write(
    vnet_project: LoadedConfig, operation: str, env: str
) -> None:
    config = vnet_project.config
    assert not check(config, role_model(config), "platform_engineers", operation, env).allowed


def test_every_persona_and_identity_reads_the_shared_registry_and_only_promotion_writes_it(
    vnet_project: LoadedConfig,
) -> None:
    config = vnet_project.config
    model = role_model(config)
    for persona in ALL_PERSONAS:
        read = check(config, model, persona, f"{REGISTRY}/assets/read", "prod")
        write = check(config, model, persona, f"{REGISTRY}/assets/write", "prod")
        assert read.allowed, persona
        assert write.allowed is (persona in ("promotion", *GOVERNORS)), persona
    publisher = next(g for g in model.grants if g.persona == "promotion" and g.env == "shared")
    assert not publisher.role.decide(f"{REGISTRY}/assets/delete", data=False).allowed


def test_no_identity_holds_the_built_in_registry_user_or_data_scientist_role(
    vnet_project: LoadedConfig,
) -> None:
    """AzureML Registry User allows assets/write and /delete; AzureML Data Scientist's
    `workspaces/*/action` allows every list-keys: neither is assigned to anyone."""
    held = {g.role.id for g in role_model(vnet_project.config).grants}
    assert builtin.AZUREML_REGISTRY_USER.id not in held
    assert builtin.AZUREML_DATA_SCIENTIST.id not in held
    assert builtin.AZUREML_COMPUTE_OPERATOR.id not in held


def test_platform_engineers_hold_no_standing_contributor_anywhere(
    vnet_project: LoadedConfig,
) -> None:
    engineers = [
        g for g in role_model(vnet_project.config).grants if g.persona != "platform_owners"
    ]
    assert all(g.role is not builtin.CONTRIBUTOR for g in engineers)


def test_just_in_time_makes_contributor_eligible_in_prod_never_standing(tmp_path: Path) -> None:
    path = copy_config("vnet", tmp_path)
    path.write_text(path.read_text() + "governance: {just_in_time: {max_hours: 4}}\n")
    config = load_config(path).config
    model = role_model(config)
    write = "Microsoft.Storage/storageAccounts/write"

    verdict = check(config, model, "platform_engineers", write, "prod")

    assert not verdict.allowed
    assert [g.role.name for g in verdict.eligible] == ["Contributor"]
    assert not check(config, model, "platform_engineers", write, "test").eligible
    [eligible] = model.eligibilities
    assert eligible.grant.env == "prod" and "4 h" in eligible.grant.why
    assert eligible not in model.standing


def test_platform_owners_may_assign_only_the_platforms_roles_to_declared_principals(
    vnet_project: LoadedConfig,
) -> None:
    config = vnet_project.config
    write = "Microsoft.Authorization/roleAssignments/write"
    verdict = check(config, role_model(config), "platform_owners", write, "prod")
    assert verdict.allowed
    assert "Contributor" in verdict.conditions
    assert "contoso-churn Data Scientist" in verdict.conditions
    privileged = ("Owner", "User Access Administrator", "Role Based Access Control Administrator")
    assert not set(privileged) & set(verdict.conditions)
    condition = next(g for g in verdict.granting).condition() or ""
    assert builtin.OWNER.id not in condition and builtin.RBAC_ADMINISTRATOR.id not in condition
    for source in ("Request", "Resource"):
        assert f"@{source}[Microsoft.Authorization/roleAssignments:RoleDefinitionId]" in condition
        assert f"@{source}[Microsoft.Authorization/roleAssignments:PrincipalId]" in condition
    for declared in (
        "0c000000-0000-4000-8000-000000000003",
        "0d000000-0000-4000-8000-000000000007",
    ):
        assert declared in condition
    assert "0e000000-0000-4000-8000-00000000000e" not in condition  # nobody mlops.yaml names


def test_the_data_scientist_role_is_an_allow_list_of_published_operations(
    vnet_project: LoadedConfig,
) -> None:
    from mlops.rbac import operations

    role = data_scientist_role(vnet_project.config)
    for action in role.permission.actions:
        if not action.endswith("/*/read"):
            assert operations.lookup(action) is not None, action
    assert role.decide(f"{ML}/computes/start/action", data=False).allowed is False
    assert builtin.AZUREML_DATA_SCIENTIST.decide(f"{ML}/computes/write", data=False).allowed


@pytest.mark.parametrize(
    ("operation", "data"),
    [
        ("Microsoft.KeyVault/vaults/secrets/write", False),  # ARM: Contributor's `*` grants it
        ("Microsoft.KeyVault/vaults/secrets/getSecret/action", True),
        ("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", True),
        (f"{ML}/onlineendpoints/listkeys/action", False),
        (f"{ML.upper()}/JOBS/WRITE", False),  # Azure matches case-insensitively
    ],
)
def test_operations_are_classified_from_microsofts_published_list(
    operation: str, data: bool
) -> None:
    is_data, source = classify(operation)
    assert is_data is data
    assert source and source.startswith("https://learn.microsoft.com/")


@pytest.mark.parametrize(
    ("operation", "override", "says"),
    [
        (f"{ML}/computes/*", None, "wildcard"),
        ("*", None, "wildcard"),
        ("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", False, "data"),
        ("Microsoft.KeyVault/vaults/secrets/write", True, "control-plane"),
        (f"{ML}/computes/create", None, "not in Microsoft's published operations"),
        ("Contoso.Widgets/widgets/write", None, "--data or --control"),
    ],
)
def test_classification_refuses_wildcards_unknown_operations_and_contradictions(
    operation: str, override: bool | None, says: str
) -> None:
    with pytest.raises(BadInputError) as refused:
        classify(operation, override)
    assert says in refused.value.message + (refused.value.hint or "")


def test_an_unknown_provider_is_evaluated_as_the_caller_says(vnet_project: LoadedConfig) -> None:
    assert classify("Contoso.Widgets/widgets/write", False) == (False, None)
    config = vnet_project.config
    verdict = check(
        config, role_model(config), "platform_owners", "Contoso.Widgets/x/write", "dev", data=False
    )
    assert verdict.allowed  # Contributor's `*`


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
    # the custom roles keep their ids wherever they are deployed: scopes are updated in place
    assert [c.role.id for c in moved.custom_roles] == [c.role.id for c in first.custom_roles]


def test_identities_per_purpose_take_over_from_the_cicd_identities(tmp_path: Path) -> None:
    path = copy_config("vnet", tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    text = "".join(line for line in lines if not line.startswith("  promotion:")).replace(
        "  platform: {",
        "  training: {client_id: 1d000000-0000-4000-8000-0000000000a1,"
        " object_id: 0d000000-0000-4000-8000-0000000000a1}\n"
        "  promotion: {client_id: 1d000000-0000-4000-8000-0000000000a2,"
        " object_id: 0d000000-0000-4000-8000-0000000000a2}\n"
        "  deployment:\n"
        "    prod: {client_id: 1d000000-0000-4000-8000-0000000000a3,"
        " object_id: 0d000000-0000-4000-8000-0000000000a3}\n"
        "  platform: {",
    )
    path.write_text(text)
    model = role_model(load_config(path).config)
    holders = {(a.grant.persona, a.grant.env, a.principal.name) for a in model.assignments}
    assert ("training", "dev", "training") in holders
    assert ("promotion", "shared", "promotion") in holders
    assert ("deployment", "prod", "deployment-prod") in holders
    assert ("deployment", "test", "cicd-test") in holders  # no deployment identity for test
    assert not any(name == "cicd-dev" for *_, name in holders)
    assert not any(name == "cicd-prod" for *_, name in holders)
