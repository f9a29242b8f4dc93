"""`infra/roles/*.json`: the custom role definitions; `infra/policies/`: the serverless-Spark
deny policy; both as subscription deployment templates.

The roles are what `mlops provision` creates through the authorization API, rendered for
review (a permission change shows up in a pull request) and for the validators. Each file
also deploys on its own: `az deployment sub create -l <region> -f infra/roles/<role>.json`
gives the definition the same id, so the two routes never create it twice.

Serverless compute: Azure RBAC has no operation that tells a serverless job from a job on a
cluster (both are `workspaces/jobs/write`), and no documented policy alias does either. The
strongest control Microsoft documents is an Azure Policy that denies Spark jobs (serverless
Spark), rendered as `infra/policies/deny-serverless-spark.json`; serverless command and
pipeline jobs are refused by `mlops run --env` only (see the README's residual risks).
"""

from __future__ import annotations

import re
from typing import Any

from mlops.config.root import Config
from mlops.rbac.model import CustomRole
from mlops.rbac.roles import Scope, derived_guid
from mlops.render.infra.namespaces import files as namespace_files

SCHEMA = (
    "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#"
)
API_VERSION = "2022-04-01"


def file_name(role: CustomRole) -> str:
    """`data-scientist.json` for the role whose key is data-scientist."""
    return re.sub(r"[^a-z0-9]+", "-", role.key.lower()).strip("-") + ".json"


def _scope(scope: Scope, deployment_subscription: str | None) -> str:
    """A resource group id: the deploying subscription's unless the environment has its own."""
    if scope.subscription_id and scope.subscription_id != deployment_subscription:
        return scope.path()
    return f"[format('{{0}}/resourceGroups/{{1}}', subscription().id, '{scope.resource_group}')]"


def role_template(role: CustomRole) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {"description": role.role.description, "generator": "mlops render"},
        "resources": [
            {
                "type": "Microsoft.Authorization/roleDefinitions",
                "apiVersion": API_VERSION,
                "name": role.role.id,
                "properties": {
                    "roleName": role.role.name,
                    "description": role.role.description,
                    "type": "CustomRole",
                    "permissions": [role.role.permission.to_rest()],
                    "assignableScopes": [
                        _scope(s, role.subscription_id) for s in role.assignable_scopes
                    ],
                },
            }
        ],
    }


POLICY_FILE = "deny-serverless-spark.json"
POLICY_API_VERSION = "2023-04-01"
#: Microsoft's own example, "Deny serverless Spark compute jobs" (how-to-integrate-azure-policy,
#: learn.microsoft.com/azure/machine-learning/how-to-integrate-azure-policy)
SPARK_JOBS_RULE = {
    "if": {
        "allOf": [
            {"field": "type", "equals": "Microsoft.MachineLearningServices/workspaces/jobs"},
            {
                "field": "Microsoft.MachineLearningServices/workspaces/jobs/jobType",
                "in": ["Spark"],
            },
        ]
    },
    "then": {"effect": "Deny"},
}


def policy_template(config: Config, scopes: list[Scope]) -> dict[str, Any]:
    """The deny policy's definition and one assignment, both at the subscription: the rule
    holds Microsoft's Spark-jobs condition plus the environments' resource groups
    (`resourceGroup().name`, a function policy rules support), so one assignment covers every
    environment without a nested deployment per resource group."""
    platform = f"{config.azure.name_prefix}-{config.project.name}"
    name = derived_guid(platform, "policyDefinitions", "deny-serverless-spark")
    definition_id = (
        f"[subscriptionResourceId('Microsoft.Authorization/policyDefinitions', '{name}')]"
    )
    display = f"{platform}: deny serverless Spark jobs"
    groups = sorted({scope.resource_group for scope in scopes})
    rule = {
        "if": {
            "allOf": [
                *SPARK_JOBS_RULE["if"]["allOf"],
                # policy rules support resourceGroup(): learn.microsoft.com/azure/governance/
                # policy/concepts/definition-structure-policy-rule#policy-functions
                {"value": "[resourceGroup().name]", "in": groups},
            ]
        },
        "then": SPARK_JOBS_RULE["then"],
    }
    resources: list[dict[str, Any]] = [
        {
            "type": "Microsoft.Authorization/policyDefinitions",
            "apiVersion": POLICY_API_VERSION,
            "name": name,
            "properties": {
                "displayName": display,
                "description": "Serverless Spark creates compute that no role can withhold:"
                " deny Spark jobs in the platform's workspaces. Managed by mlops.",
                "policyType": "Custom",
                "mode": "All",
                "metadata": {"category": "Machine Learning", "generator": "mlops render"},
                "policyRule": rule,
            },
        },
        {
            "type": "Microsoft.Authorization/policyAssignments",
            "apiVersion": POLICY_API_VERSION,
            "name": derived_guid(platform, "policyAssignments", "deny-serverless-spark"),
            "dependsOn": [definition_id],
            "properties": {
                "displayName": display,
                "policyDefinitionId": definition_id,
                "enforcementMode": "Default",
            },
        },
    ]
    return {
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {"description": display, "generator": "mlops render"},
        "resources": resources,
    }


def governance_files(config: Config, custom_roles: tuple[CustomRole, ...]) -> dict[str, Any]:
    """Path under infra/ to its template: each custom role (roles/), then the policy
    (policies/: a subscription deployment of another resource family, which the vendored
    ARM schemas do not cover, so CI checks it with checkov and its own test only)."""
    out: dict[str, Any] = {f"roles/{file_name(r)}": role_template(r) for r in custom_roles}
    environments = next((r.assignable_scopes for r in custom_roles if r.key == "reader"), ())
    same_subscription = [
        s
        for s in environments
        if not s.subscription_id or s.subscription_id == config.azure.subscription_id
    ]
    out[f"policies/{POLICY_FILE}"] = policy_template(config, same_subscription)
    # the teams' namespaces, quotas and network policies, which Flux applies to the cluster
    out |= namespace_files(config)
    return out
