"""`infra/roles/<role>.json`: the custom role definitions, as subscription deployment templates.

They are what `mlops provision` creates through the authorization API, rendered for review
(a permission change shows up in a pull request) and for the validators. Each file also
deploys on its own: `az deployment sub create -l <region> -f infra/roles/<role>.json` gives
the definition the same id, so the two routes never create it twice.
"""

from __future__ import annotations

import re
from typing import Any

from mlops.rbac.model import CustomRole
from mlops.rbac.roles import Scope

SCHEMA = (
    "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#"
)
API_VERSION = "2022-04-01"


def file_name(role: CustomRole) -> str:
    """`data-scientist.json` for "<prefix>-<project> Data Scientist"."""
    persona = role.role.name.rsplit(" ", 2)[-2:]
    return re.sub(r"[^a-z0-9]+", "-", " ".join(persona).lower()).strip("-") + ".json"


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
