"""Role definitions and assignments through `azure-mgmt-authorization` (api 2022-04-01).

Reads come back as the plan layer's `Observed*` values; writes take the REST properties the
plan layer builds. A new group or service principal can take a minute to reach every ARM
region (Entra replication), during which Azure answers `PrincipalNotFound`: assignments are
retried with growing pauses before giving up with a message that says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from mlops.backends.azure.calls import call
from mlops.errors import BackendError
from mlops.plan.roles import (
    ACTIVATION_RULE,
    ObservedAssignment,
    ObservedDefinition,
    ObservedEligibility,
    ObservedPolicy,
)

if TYPE_CHECKING:
    from azure.mgmt.authorization import AuthorizationManagementClient

#: pauses between tries while a new principal replicates: about two minutes in all
REPLICATION_DELAYS = (5.0, 10.0, 15.0, 30.0, 60.0)
DENIED_HINT = (
    "role definitions and assignments need Owner, User Access Administrator or Role Based"
    " Access Control Administrator on the scope (roleDefinitions/write on the subscription"
    " for the custom role)"
)


def get_definition(
    client: AuthorizationManagementClient, scope: str, guid: str
) -> ObservedDefinition | None:
    from azure.core.exceptions import ResourceNotFoundError

    def read() -> Any:
        try:
            return client.role_definitions.get(scope, guid)
        except ResourceNotFoundError:
            return None

    found = call(read, f"reading role definition {guid}", denied_hint=DENIED_HINT)
    if found is None:
        return None
    return ObservedDefinition(
        role_name=found.role_name or "",
        description=found.description or "",
        permissions=tuple(
            {
                "actions": list(p.actions or []),
                "notActions": list(p.not_actions or []),
                "dataActions": list(p.data_actions or []),
                "notDataActions": list(p.not_data_actions or []),
            }
            for p in found.permissions or []
        ),
        assignable_scopes=tuple(found.assignable_scopes or []),
    )


def put_definition(
    client: AuthorizationManagementClient, scope: str, guid: str, properties: dict[str, Any]
) -> None:
    from azure.mgmt.authorization.models import Permission, RoleDefinition

    body = RoleDefinition(
        role_name=properties["roleName"],
        description=properties["description"],
        role_type=properties["type"],
        permissions=[
            Permission(
                actions=p["actions"],
                not_actions=p["notActions"],
                data_actions=p["dataActions"],
                not_data_actions=p["notDataActions"],
            )
            for p in properties["permissions"]
        ],
        assignable_scopes=properties["assignableScopes"],
    )
    call(
        lambda: client.role_definitions.create_or_update(scope, guid, body),
        f"writing role definition {properties['roleName']}",
        denied_hint=DENIED_HINT,
    )


def list_assignments(client: AuthorizationManagementClient, scope: str) -> list[ObservedAssignment]:
    """Assignments at, above and below `scope` (the caller keeps the ones it manages)."""

    def read() -> list[ObservedAssignment]:
        return [
            ObservedAssignment(
                id=a.id or "",
                name=a.name or "",
                scope=a.scope or "",
                role_definition_id=a.role_definition_id or "",
                principal_id=a.principal_id or "",
                principal_type=str(getattr(a.principal_type, "value", a.principal_type) or ""),
                description=a.description,
                condition=a.condition,
            )
            for a in client.role_assignments.list_for_scope(scope)
        ]

    return call(read, f"listing role assignments of {scope}", denied_hint=DENIED_HINT)


def put_assignment(
    client: AuthorizationManagementClient,
    scope: str,
    name: str,
    properties: dict[str, Any],
    *,
    delays: Sequence[float] = REPLICATION_DELAYS,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[int, float], None] | None = None,
) -> bool:
    """Create or update an assignment; False when an identical one already exists."""
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

    body = RoleAssignmentCreateParameters(
        role_definition_id=properties["roleDefinitionId"],
        principal_id=properties["principalId"],
        principal_type=properties["principalType"],
        description=properties.get("description"),
        condition=properties.get("condition"),
        condition_version=properties.get("conditionVersion"),
    )
    what = f"assigning role to {properties['principalId']} at {scope}"
    waited = 0.0
    for attempt in range(len(delays) + 1):
        try:
            call(
                lambda: _create(client, scope, name, body),
                what,
                denied_hint=DENIED_HINT,
            )
            return True
        except _Retryable as exc:
            if exc.code == "RoleAssignmentExists":
                return False
            if attempt == len(delays):
                raise BackendError(
                    f"{what}: principal {properties['principalId']} was still not found in"
                    f" Microsoft Entra ID after {attempt + 1} tries over {waited:.0f} s",
                    hint="a group or service principal created minutes ago may still be"
                    " replicating: re-run `mlops provision` shortly; otherwise check the"
                    " object id in mlops.yaml",
                ) from None
            if on_wait is not None:
                on_wait(attempt + 1, delays[attempt])
            sleep(delays[attempt])
            waited += delays[attempt]
    raise AssertionError("unreachable")


class _Retryable(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _create(client: AuthorizationManagementClient, scope: str, name: str, body: Any) -> None:
    from azure.core.exceptions import HttpResponseError

    try:
        client.role_assignments.create(scope, name, body)
    except HttpResponseError as exc:
        code = getattr(exc.error, "code", None) or ""
        if code in ("PrincipalNotFound", "RoleAssignmentExists"):
            raise _Retryable(code) from None
        raise


def delete_assignment(client: AuthorizationManagementClient, assignment_id: str) -> None:
    call(
        lambda: client.role_assignments.delete_by_id(assignment_id),
        f"removing role assignment {assignment_id}",
        denied_hint=DENIED_HINT,
    )


# --- Privileged Identity Management (api 2020-10-01) --------------------------------------


def get_eligibility_request(
    client: AuthorizationManagementClient, scope: str, name: str
) -> ObservedEligibility | None:
    """The eligibility request of that name, or None when it was never made."""
    from azure.core.exceptions import ResourceNotFoundError

    def read() -> Any:
        try:
            return client.role_eligibility_schedule_requests.get(scope, name)
        except ResourceNotFoundError:
            return None

    found = call(read, f"reading eligibility request {name}", denied_hint=DENIED_HINT)
    if found is None:
        return None
    return ObservedEligibility(
        name=found.name or name,
        principal_id=found.principal_id or "",
        role_definition_id=found.role_definition_id or "",
        status=found.status or "",
    )


def put_eligibility_request(
    client: AuthorizationManagementClient, scope: str, name: str, properties: dict[str, Any]
) -> None:
    """Ask PIM to make a principal eligible for a role at a scope (an admin assignment)."""
    from azure.mgmt.authorization.v2020_10_01.models import RoleEligibilityScheduleRequest

    body = RoleEligibilityScheduleRequest.from_dict(properties)
    call(
        lambda: client.role_eligibility_schedule_requests.create(scope, name, body),
        f"making {properties['principalId']} eligible at {scope}",
        denied_hint=DENIED_HINT,
    )


def get_activation_policy(
    client: AuthorizationManagementClient, scope: str, role_definition_id: str
) -> ObservedPolicy | None:
    """The PIM policy of a role at a scope and its longest activation (None: no policy)."""

    def read() -> ObservedPolicy | None:
        wanted = role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()
        query = f"roleDefinitionId eq '{role_definition_id}'"
        for assigned in client.role_management_policy_assignments.list_for_scope(
            scope, filter=query
        ):
            role = (assigned.role_definition_id or "").rstrip("/").rsplit("/", 1)[-1].lower()
            if role != wanted or not assigned.policy_id:
                continue
            policy = client.role_management_policies.get(
                scope, assigned.policy_id.rsplit("/", 1)[-1]
            )
            limit = next((r for r in policy.rules or [] if r.id == ACTIVATION_RULE), None)
            return ObservedPolicy(assigned.policy_id, getattr(limit, "maximum_duration", None))
        return None

    return call(read, f"reading the PIM policy at {scope}", denied_hint=DENIED_HINT)


def set_activation_limit(
    client: AuthorizationManagementClient, policy_id: str, duration: str
) -> None:
    """Set the policy's longest activation (Microsoft's rule Expiration_EndUser_Assignment)."""
    from azure.mgmt.authorization.v2020_10_01.models import (
        RoleManagementPolicy,
        RoleManagementPolicyExpirationRule,
        RoleManagementPolicyRuleTarget,
    )

    scope, _, name = policy_id.rpartition(
        "/providers/Microsoft.Authorization/roleManagementPolicies/"
    )
    rule = RoleManagementPolicyExpirationRule(
        id=ACTIVATION_RULE,
        is_expiration_required=True,
        maximum_duration=duration,
        target=RoleManagementPolicyRuleTarget(
            caller="EndUser", operations=["All"], level="Assignment"
        ),
    )
    call(
        lambda: client.role_management_policies.update(
            scope, name, RoleManagementPolicy(rules=[rule])
        ),
        f"limiting activations to {duration} at {scope}",
        denied_hint=DENIED_HINT,
    )


__all__ = [
    "delete_assignment",
    "get_activation_policy",
    "get_definition",
    "get_eligibility_request",
    "list_assignments",
    "put_assignment",
    "put_definition",
    "put_eligibility_request",
    "set_activation_limit",
]
