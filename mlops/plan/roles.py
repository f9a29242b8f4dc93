"""RBAC changes: the role model of mlops.yaml compared with what Azure holds.

Pure: the backend reads role definitions and assignments into the `Observed*` values below,
and this module decides. A declared assignment that already exists under another name (made
by hand, or by an earlier tool) counts as done rather than as a conflict. An assignment at
the platform's scopes that mlops.yaml does not declare is a delete when mlops made it (its
description says so) and otherwise `unmanaged`: shown, and removed only by `--prune`, and
then only for users and groups; service principals include the managed identities Azure ML
grants itself, which a prune must never take away. The role assignments an environment's
stack deploys for its policy identities (described with STACK_MARKER) are the stack's own
and are not listed at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.plan.changes import PropertyChange, ResourceChange
from mlops.rbac.builtin import BUILTIN
from mlops.rbac.model import MANAGED_MARKER, Assignment, CustomRole, RoleModel
from mlops.rbac.roles import derived_guid
from mlops.render.infra.diagnostics import STACK_MARKER

DEFINITION = "Microsoft.Authorization/roleDefinitions"
ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
ELIGIBILITY = "Microsoft.Authorization/roleEligibilityScheduleRequests"
PRUNABLE_TYPES = frozenset({"User", "Group", "ForeignGroup"})


@dataclass(frozen=True)
class ObservedDefinition:
    role_name: str
    description: str
    permissions: tuple[dict[str, list[str]], ...]
    assignable_scopes: tuple[str, ...]


@dataclass(frozen=True)
class ObservedAssignment:
    id: str
    name: str
    scope: str
    role_definition_id: str
    principal_id: str
    principal_type: str
    description: str | None = None
    condition: str | None = None

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.scope.lower(), self.principal_id.lower(), _guid(self.role_definition_id))


def definition_id(role: CustomRole) -> str:
    return f"/subscriptions/{role.subscription_id}/providers/{DEFINITION}/{role.role.id}"


def definition_properties(role: CustomRole) -> dict[str, Any]:
    """The REST body's `properties` of a custom role (subscriptions known)."""
    return {
        "roleName": role.role.name,
        "description": role.role.description,
        "type": "CustomRole",
        "permissions": [role.role.permission.to_rest()],
        "assignableScopes": [s.path() for s in role.assignable_scopes],
    }


def assignment_id(assignment: Assignment) -> str:
    return f"{assignment.scope}/providers/{ASSIGNMENT}/{assignment.name}"


def assignment_properties(assignment: Assignment) -> dict[str, Any]:
    """The REST body's `properties` of a role assignment."""
    out: dict[str, Any] = {
        "roleDefinitionId": assignment.role_definition_id,
        "principalId": assignment.principal.object_id,
        "principalType": assignment.principal.type,
        "description": assignment.description,
    }
    condition = assignment.grant.condition()
    if condition:
        out["condition"] = condition
        out["conditionVersion"] = "2.0"
    return out


# --- just-in-time elevation (Privileged Identity Management) ----------------------------

POLICY = "Microsoft.Authorization/roleManagementPolicies"
#: the PIM policy rule that bounds an activation (Microsoft's rule id)
ACTIVATION_RULE = "Expiration_EndUser_Assignment"


@dataclass(frozen=True)
class ObservedEligibility:
    name: str
    principal_id: str
    role_definition_id: str
    status: str


@dataclass(frozen=True)
class ActivationLimit:
    """The longest activation PIM allows for a role at a scope (its policy's rule)."""

    scope: str
    role_id: str
    role_name: str
    hours: int

    @property
    def duration(self) -> str:
        return f"PT{self.hours}H"

    @property
    def label(self) -> str:
        return (
            f"{self.role_name} activation at most {self.hours} h at {self.scope.rsplit('/', 1)[-1]}"
        )


@dataclass(frozen=True)
class ObservedPolicy:
    id: str  # the policy's resource id, which PIM names itself
    maximum_duration: str | None


def eligibility_name(assignment: Assignment) -> str:
    """uuid5 like assignment names, distinct from a standing assignment of the same role."""
    return derived_guid(
        assignment.scope, assignment.principal.object_id, assignment.grant.role.id, "eligible"
    )


def eligibility_properties(assignment: Assignment, days: int) -> dict[str, Any]:
    """The REST body's `properties` of a PIM eligibility request (an admin assigns it)."""
    return {
        "principalId": assignment.principal.object_id,
        "roleDefinitionId": assignment.role_definition_id,
        "requestType": "AdminAssign",
        "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": f"P{days}D"}},
        "justification": assignment.description,
    }


def activation_limits(model: RoleModel, max_hours: int) -> list[ActivationLimit]:
    """One limit per (scope, role) that holds an eligibility."""
    seen: dict[tuple[str, str], ActivationLimit] = {}
    for a in model.eligibilities:
        key = (a.scope.lower(), a.grant.role.id)
        seen.setdefault(
            key, ActivationLimit(a.scope, a.grant.role.id, a.grant.role.name, max_hours)
        )
    return list(seen.values())


def jit_changes(
    model: RoleModel,
    requests: dict[str, ObservedEligibility | None],
    policies: dict[tuple[str, str], ObservedPolicy | None],
    max_hours: int,
) -> list[Targeted]:
    """Eligibilities to request (by name; a request once made is not repeated) and the
    activation limits to set on the roles' PIM policies."""
    out: list[Targeted] = []
    for wanted in model.eligibilities:
        name = eligibility_name(wanted)
        rid = f"{wanted.scope}/providers/{ELIGIBILITY}/{name}"
        found = requests.get(name)
        action = "no-change" if found is not None and found.status != "Failed" else "create"
        out.append((ResourceChange(action, ELIGIBILITY, wanted.label, rid), wanted))
    for limit in activation_limits(model, max_hours):
        policy = policies.get((limit.scope.lower(), limit.role_id))
        if policy is None:
            continue  # PIM keeps a default policy per role and scope; none: nothing to set
        have = policy.maximum_duration
        diffs = ()
        if (have or "").upper() != limit.duration:
            diffs = (PropertyChange("maximumDuration", "modify", have, limit.duration),)
        action = "modify" if diffs else "no-change"
        out.append((ResourceChange(action, POLICY, limit.label, policy.id, diffs), limit))
    return out


def offline_changes(model: RoleModel) -> tuple[ResourceChange, ...]:
    """Everything as a create: what mlops.yaml declares, with no Azure call."""
    return tuple(
        [ResourceChange("create", DEFINITION, c.role.name) for c in model.custom_roles]
        + [ResourceChange("create", ASSIGNMENT, a.label) for a in model.standing]
        + [ResourceChange("create", ELIGIBILITY, a.label) for a in model.eligibilities]
    )


#: a change and what applying it writes: the declared role or assignment (None for removals)
Targeted = tuple[ResourceChange, CustomRole | Assignment | ActivationLimit | None]


def role_changes(
    selected: RoleModel,
    full: RoleModel,
    definitions: dict[str, ObservedDefinition | None],
    assignments: list[ObservedAssignment],
    managed_scopes: list[str],
) -> list[Targeted]:
    """What applying `selected` changes; `full` keeps other environments' assignments alone."""
    changes: list[Targeted] = [
        (_definition_change(c, definitions.get(c.role.id)), c) for c in selected.custom_roles
    ]
    by_name = {o.name.lower(): o for o in assignments}
    by_identity = {o.identity: o for o in assignments}
    matched: set[str] = set()
    for wanted in selected.standing:
        rid = assignment_id(wanted)
        found = by_name.get(wanted.name.lower()) or by_identity.get(_identity(wanted))
        if found is None:
            changes.append((ResourceChange("create", ASSIGNMENT, wanted.label, rid), wanted))
            continue
        matched.add(found.id.lower())
        diffs = _assignment_diffs(wanted, found)
        action = "modify" if diffs else "no-change"
        changes.append((ResourceChange(action, ASSIGNMENT, wanted.label, found.id, diffs), wanted))
    # an eligibility is not a standing assignment: the same role held standing is removed
    declared = {a.name.lower() for a in full.standing} | {_identity(a) for a in full.standing}
    scopes = [s.lower() for s in managed_scopes]
    for seen in assignments:
        if seen.id.lower() in matched or seen.name.lower() in declared:
            continue
        if seen.identity in declared or not _within(seen.scope.lower(), scopes):
            continue
        if (seen.description or "").startswith(STACK_MARKER):
            continue  # a policy identity's role, deployed and kept by the environment's stack
        label = f"{_role_label(seen, full)} -> {seen.principal_type} {seen.principal_id}"
        label += f" at {seen.scope.rstrip('/').rsplit('/', 1)[-1]}"
        if (seen.description or "").startswith(MANAGED_MARKER):
            changes.append((ResourceChange("delete", ASSIGNMENT, label, seen.id), None))
        else:
            prunable = seen.principal_type in PRUNABLE_TYPES
            change = ResourceChange("unmanaged", ASSIGNMENT, label, seen.id, (), prunable)
            changes.append((change, None))
    return changes


def _definition_change(role: CustomRole, seen: ObservedDefinition | None) -> ResourceChange:
    rid = definition_id(role)
    if seen is None:
        return ResourceChange("create", DEFINITION, role.role.name, rid)
    wanted = definition_properties(role)
    have = {
        "roleName": seen.role_name,
        "description": seen.description,
        "permissions": list(seen.permissions),
        "assignableScopes": list(seen.assignable_scopes),
    }
    diffs = tuple(
        PropertyChange(key, "modify", have[key], wanted[key])
        for key in ("roleName", "description", "permissions", "assignableScopes")
        if _normal(have[key]) != _normal(wanted[key])
    )
    return ResourceChange(
        "modify" if diffs else "no-change", DEFINITION, role.role.name, rid, diffs
    )


def _assignment_diffs(wanted: Assignment, seen: ObservedAssignment) -> tuple[PropertyChange, ...]:
    props = assignment_properties(wanted)
    have = {
        "principalId": seen.principal_id,
        "roleDefinitionId": seen.role_definition_id,
        "description": seen.description,
        "condition": seen.condition,
    }
    out = []
    for key in ("principalId", "roleDefinitionId", "condition"):
        if _normal(have[key]) != _normal(props.get(key)):
            out.append(PropertyChange(key, "modify", have[key], props.get(key)))
    if seen.name.lower() == wanted.name.lower() and have["description"] != props["description"]:
        out.append(
            PropertyChange("description", "modify", have["description"], props["description"])
        )
    if _guid(seen.role_definition_id) == wanted.grant.role.id:  # same role by another path
        out = [p for p in out if p.path != "roleDefinitionId"]
    return tuple(out)


def _identity(assignment: Assignment) -> tuple[str, str, str]:
    return (
        assignment.scope.lower(),
        assignment.principal.object_id.lower(),
        assignment.grant.role.id,
    )


def _guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _within(scope: str, roots: list[str]) -> bool:
    return any(scope == r or scope.startswith(r + "/") for r in roots)


def _role_label(seen: ObservedAssignment, model: RoleModel) -> str:
    guid = _guid(seen.role_definition_id)
    if guid in BUILTIN:
        return BUILTIN[guid].name
    custom = next((c.role for c in model.custom_roles if c.role.id == guid), None)
    return custom.name if custom else f"role {guid}"


def _normal(value: Any) -> Any:
    """Compare case-insensitively and order-insensitively, as Azure treats these values."""
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, list | tuple):
        return sorted((_normal(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value
