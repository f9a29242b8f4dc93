"""The rendered role definitions in infra/roles/ deny what issue 16 names, read as Azure reads them.

This file imports nothing from mlops: it reads the committed JSON (what a reviewer approves
and `az deployment sub create` deploys) and evaluates it with its own matcher, written from
Azure's documented rules: `*` matches any run of characters, case does not matter, and an
operation is granted when one of `actions` matches and none of the same block's `notActions`
does. If the model and the rendered files ever disagree, this test sees the files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

ROLES = Path(__file__).parents[2] / "infra" / "roles"
POLICIES = Path(__file__).parents[2] / "infra" / "policies"
ML = "Microsoft.MachineLearningServices/workspaces"
REGISTRY = "Microsoft.MachineLearningServices/registries"

#: issue 16's "Why", operation by operation
NETWORK = (
    f"{ML}/outboundRules/write",
    f"{ML}/privateEndpointConnections/write",
    f"{ML}/privateEndpointConnectionsApproval/action",
    f"{ML}/provisionManagedNetwork/action",
)
ENDPOINT_TOKEN = f"{ML}/onlineendpoints/token/action"
SECRETS = (
    f"{ML}/listStorageAccountKeys/action",
    f"{ML}/connections/listsecrets/action",
    f"{ML}/datastores/listsecrets/action",
    f"{ML}/onlineendpoints/listkeys/action",
    f"{ML}/onlineendpoints/token/action",
    f"{ML}/batchEndpoints/listKeys/action",
    f"{ML}/serverlessEndpoints/listKeys/action",
    f"{ML}/listKeys/action",
    f"{ML}/listNotebookKeys/read",
    f"{ML}/listNotebookAccessToken/read",
    f"{ML}/metadata/secrets/read",
)
COMPUTE = (
    f"{ML}/computes/write",
    f"{ML}/computes/delete",
    f"{ML}/batchEndpoints/write",
    f"{ML}/batchEndpoints/deployments/write",
    f"{ML}/serverlessEndpoints/write",
)
ENDPOINTS = (f"{ML}/onlineEndpoints/write", f"{ML}/onlineEndpoints/deployments/write")
PLATFORM_WRITES = (
    "Microsoft.Storage/storageAccounts/write",
    "Microsoft.Storage/storageAccounts/listKeys/action",
    "Microsoft.Network/networkSecurityGroups/securityRules/write",
    "Microsoft.KeyVault/vaults/secrets/write",
    "Microsoft.KeyVault/vaults/accessPolicies/write",
    "Microsoft.Authorization/roleAssignments/write",
    f"{ML}/write",
)
REGISTRY_WRITES = (f"{REGISTRY}/assets/write", f"{REGISTRY}/assets/delete")

#: file -> (operations it must deny, operations it must allow)
EXPECTED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "data-scientist.json": (
        NETWORK + SECRETS + COMPUTE + ENDPOINTS + PLATFORM_WRITES + REGISTRY_WRITES,
        (f"{ML}/jobs/write", f"{ML}/models/versions/write", f"{ML}/computes/read"),
    ),
    "reader.json": (
        NETWORK + SECRETS + COMPUTE + ENDPOINTS + PLATFORM_WRITES + REGISTRY_WRITES,
        (f"{ML}/jobs/read", f"{ML}/models/versions/read"),
    ),
    # smoke tests score with a token: Entra (score/action) on managed endpoints, an Azure ML
    # token on Kubernetes ones (no Entra token there); never the endpoint's keys
    "deployer.json": (
        NETWORK
        + tuple(s for s in SECRETS if s != ENDPOINT_TOKEN)
        + COMPUTE
        + PLATFORM_WRITES
        + REGISTRY_WRITES,
        (*ENDPOINTS, f"{ML}/onlineEndpoints/score/action", ENDPOINT_TOKEN),
    ),
    "operator.json": (
        NETWORK + SECRETS + PLATFORM_WRITES + REGISTRY_WRITES + (f"{ML}/computes/delete",),
        (*ENDPOINTS, f"{ML}/computes/stop/action", f"{ML}/jobs/cancel/action"),
    ),
    "registry-reader.json": (REGISTRY_WRITES + NETWORK + SECRETS, (f"{REGISTRY}/assets/read",)),
    "registry-publisher.json": (
        (f"{REGISTRY}/assets/delete", f"{REGISTRY}/privateEndpointConnectionsApproval/action"),
        (f"{REGISTRY}/assets/write", f"{REGISTRY}/assets/read"),
    ),
}


def _matches(pattern: str, operation: str) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, operation, re.IGNORECASE) is not None


def _role(name: str) -> dict[str, Any]:
    template = json.loads((ROLES / name).read_text(encoding="utf-8"))
    [resource] = template["resources"]
    assert resource["type"] == "Microsoft.Authorization/roleDefinitions"
    return resource["properties"]


def _grants(role: dict[str, Any], operation: str) -> bool:
    """Azure's rule for one role: some block's actions match and its notActions do not."""
    return any(
        any(_matches(p, operation) for p in block["actions"])
        and not any(_matches(p, operation) for p in block["notActions"])
        for block in role["permissions"]
    )


def test_every_custom_role_file_is_checked_here() -> None:
    rendered = {p.name for p in ROLES.glob("*.json")}
    assert rendered == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_rendered_role_denies_what_issue_16_names_and_allows_its_work(name: str) -> None:
    role = _role(name)
    denied, allowed = EXPECTED[name]
    assert [op for op in denied if _grants(role, op)] == []
    assert [op for op in allowed if not _grants(role, op)] == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_rendered_roles_grant_no_data_action_and_no_write_wildcard(name: str) -> None:
    role = _role(name)
    for block in role["permissions"]:
        assert block["dataActions"] == [] and block["notDataActions"] == []
        wildcards = [a for a in block["actions"] if "*" in a]
        assert all(a.endswith("/read") for a in wildcards), wildcards


def test_the_rendered_policy_denies_spark_jobs_in_the_platforms_resource_groups() -> None:
    template = json.loads((POLICIES / "deny-serverless-spark.json").read_text(encoding="utf-8"))
    definition, assignment = template["resources"]
    rule = definition["properties"]["policyRule"]
    assert rule["then"]["effect"] == "Deny"
    conditions = rule["if"]["allOf"]
    assert {"field": "type", "equals": f"{ML}/jobs"} in conditions
    assert {"field": f"{ML}/jobs/jobType", "in": ["Spark"]} in conditions
    groups = next(c["in"] for c in conditions if c.get("value") == "[resourceGroup().name]")
    assert groups == sorted(f"rg-mlops-diagnosis-{env}" for env in ("dev", "test", "prod"))
    assert assignment["type"] == "Microsoft.Authorization/policyAssignments"
    assert definition["name"] in assignment["properties"]["policyDefinitionId"]
