"""Roles and the scopes they are assigned at, as values.

Scopes know their subscription only when mlops.yaml does: rendered files and offline plans
describe the same scopes by resource group and resource, and `path()` fills the
subscription in when it is known.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from mlops.rbac.permissions import Decision, Permission

#: The namespace of every GUID mlops derives (role-definition ids, role-assignment names).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "rbac.mlops")

ScopeKind = Literal[
    "resource_group",
    "workspace",
    "storage_account",
    "registry",
    "kubernetes",
    "kubernetes_namespace",
]

PROVIDERS: dict[str, str] = {
    "workspace": "Microsoft.MachineLearningServices/workspaces",
    "storage_account": "Microsoft.Storage/storageAccounts",
    "registry": "Microsoft.MachineLearningServices/registries",
    "kubernetes": "Microsoft.ContainerService/managedClusters",
    # a namespace of an AKS cluster: <cluster id>/namespaces/<name>, where AKS evaluates Azure
    # RBAC for that namespace only (/azure/aks/manage-azure-rbac, "Create role assignments")
    "kubernetes_namespace": "Microsoft.ContainerService/managedClusters",
}
LABELS: dict[str, str] = {
    "resource_group": "resource group",
    "workspace": "workspace",
    "storage_account": "storage account",
    "registry": "registry",
    "kubernetes": "AKS cluster",
    "kubernetes_namespace": "AKS namespace",
}


def derived_guid(*parts: str) -> str:
    """A GUID that is the same for the same parts on every run: what makes applies idempotent."""
    return str(uuid.uuid5(NAMESPACE, "|".join(p.lower() for p in parts)))


@dataclass(frozen=True)
class Role:
    name: str
    id: str  # the GUID of the role definition
    description: str
    permission: Permission
    custom: bool = False

    def decide(self, operation: str, *, data: bool) -> Decision:
        return self.permission.decide(operation, data=data)


@dataclass(frozen=True)
class Scope:
    """A resource group, or one resource in it, where roles are assigned."""

    kind: ScopeKind
    resource_group: str
    name: str  # the resource's name; the resource group's name for a resource group
    subscription_id: str | None = None

    @property
    def label(self) -> str:
        return f"{LABELS[self.kind]} {self.name}"

    def path(self, subscription_id: str | None = None) -> str:
        """The ARM scope path; `{subscriptionId}` when the subscription is not known."""
        sub = subscription_id or self.subscription_id or "{subscriptionId}"
        rg = f"/subscriptions/{sub}/resourceGroups/{self.resource_group}"
        if self.kind == "resource_group":
            return rg
        return f"{rg}/providers/{PROVIDERS[self.kind]}/{self.name}"

    def contains(self, other: Scope) -> bool:
        """Whether an assignment at this scope applies at `other` (inheritance downward)."""
        mine, theirs = self.path().lower(), other.path().lower()
        return theirs == mine or theirs.startswith(mine + "/")


def role_definition_id(role: Role, subscription_id: str | None) -> str:
    """The id an assignment names its role by (roles are visible from every subscription)."""
    sub = subscription_id or "{subscriptionId}"
    return f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role.id}"
