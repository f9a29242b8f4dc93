"""What ARM deployment stacks do, kept as data with its source, and the stack settings of a run.

Each infrastructure stack (shared, each environment) is applied as a deployment stack at
resource-group scope. Facts below come from Microsoft's pages named next to them; the SDK
(azure-mgmt-resource-deploymentstacks 1.0, api-version 2025-07-01) agrees on each value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DOCS = "https://learn.microsoft.com/azure/azure-resource-manager/bicep/deployment-stacks"
KNOWN_ISSUES = (
    "https://learn.microsoft.com/azure/azure-resource-manager/bicep/deployment-stacks-known-issues"
)
DENY_SETTINGS_REST = (
    "https://learn.microsoft.com/javascript/api/@azure/arm-resourcesdeploymentstacks/denysettings"
)

#: actionOnUnmanage.resources / .resourceGroups: a resource removed from the template is left
#: in Azure ("detach") or deleted ("delete") on the next stack update. (DOCS)
UnmanageAction = Literal["detach", "delete"]
UNMANAGE_ACTIONS: tuple[UnmanageAction, ...] = ("detach", "delete")

#: denySettings.mode: "denyDelete" lets authorized users modify but not delete;
#: "denyWriteAndDelete" lets them only read. ARM appends "*/read" and
#: "Microsoft.Authorization/locks/delete" to excludedActions itself. (DENY_SETTINGS_REST)
DenyMode = Literal["none", "denyDelete", "denyWriteAndDelete"]
DENY_MODES: tuple[DenyMode, ...] = ("none", "denyDelete", "denyWriteAndDelete")
#: "Up to 5 principals are permitted" in excludedPrincipals. (DENY_SETTINGS_REST)
MAX_EXCLUDED_PRINCIPALS = 5
#: "Up to 200 actions are permitted" in excludedActions. (DENY_SETTINGS_REST)
MAX_EXCLUDED_ACTIONS = 200

#: denySettings.excludedActions: "RBAC management operations excluded from the deny
#: settings" (DOCS, "Protect managed resources"; DENY_SETTINGS_REST). An environment's
#: resource-log policies (mlops.render.infra.diagnostics) deploy, as their own identities, a
#: diagnostic setting onto each resource the stack manages: an extension resource at the
#: resource's scope. Only that write is excluded; the remediation deployment itself is a
#: resource-group deployment the stack does not manage.
#: Caveat: DOCS says deny settings reach "nested resources under managed resources" only
#: with applyToChildScopes, which mlops leaves off (the deployment identity writes the
#: workspace's child resources, its online endpoints); whether Azure counts an extension
#: resource as such a child scope is not documented, so the write is excluded either way.
EXCLUDED_ACTIONS = ("Microsoft.Insights/diagnosticSettings/write",)

#: Deny settings per stack unless mlops.yaml says otherwise: people may try things by hand in
#: dev; test, prod, the shared registry and any other environment are written only by mlops.
DEFAULT_DENY: dict[str, DenyMode] = {"dev": "none"}
FALLBACK_DENY: DenyMode = "denyWriteAndDelete"

#: provisioningState values after which the stack takes a new update; every other value
#: (creating, validating, waiting, deploying, canceling, updatingDenyAssignments,
#: deletingResources, deleting, initializing, running) means an operation is in flight.
#: (the DeploymentStackProvisioningState enum of the REST specification, api 2025-07-01)
TERMINAL_STATES = frozenset({"succeeded", "failed", "canceled"})

#: Stack names: up to 90 characters of letters, digits, '-', '_', '.', '(' and ')' (the path
#: parameter deploymentStackName of the REST specification).
NAME_MAX = 90

#: What a deployment stack cannot do, from KNOWN_ISSUES, for the README and error hints:
LIMITS = (
    "implicitly created resources are not managed: no deny assignment, no clean-up",
    "deleting the resource group bypasses the deny assignments (a stack at resource-group"
    " scope does not manage its own resource group)",
    "moving a managed resource out of its resource group removes its protection",
    "Key Vault secrets cannot be deleted by a stack: detach them",
    "at most 800 stacks per scope and 2,000 deny assignments per scope",
)


def stack_name(project: str, stack: str) -> str:
    """`mlops-<project>-<stack>`: projects sharing a resource group keep separate stacks."""
    return f"mlops-{project}-{stack}"


def is_running(state: str | None) -> bool:
    """Whether a stack in this provisioningState has an operation in flight."""
    return state is not None and state.lower() not in TERMINAL_STATES


@dataclass(frozen=True)
class StackSettings:
    """How one stack is applied: what happens to resources removed from mlops.yaml, and who
    may still write to the resources it manages."""

    action_on_unmanage: UnmanageAction
    deny_mode: DenyMode
    excluded_principals: tuple[str, ...] = ()
    excluded_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackState:
    """A deployment stack as ARM reports it (no SDK type crosses the backend boundary)."""

    name: str
    provisioning_state: str | None
    correlation_id: str | None
    #: when the current (or last) operation started: systemData.lastModifiedAt
    started_at: str | None
    #: ids of the resources the stack manages
    resources: tuple[str, ...] = ()
    deny_mode: str | None = None
    action_on_unmanage: str | None = None
    #: `code: message` of the stack's error, and each failed resource as `type/name: message`
    error: str | None = None
    failed: tuple[str, ...] = ()
    #: the ARM deployment the stack runs (its operations show progress)
    deployment_name: str | None = None

    @property
    def running(self) -> bool:
        return is_running(self.provisioning_state)
