"""Governance use cases: the RBAC part of plan and provision, the audit matrix, `rbac check`.

Role definitions are applied before assignments (an assignment names its role), and both
after the infrastructure stacks (assignments sit on the workspace, storage account and
registry those stacks create). Deletes of assignments mlops made and no longer declares are
part of every apply; unmanaged assignments go only with `prune`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops.config.loader import LoadedConfig
from mlops.errors import BackendError, BadInputError
from mlops.plan.changes import ROLES, StackPlan
from mlops.plan.roles import (
    ASSIGNMENT,
    ELIGIBILITY,
    ActivationLimit,
    Targeted,
    activation_limits,
    assignment_properties,
    definition_properties,
    eligibility_name,
    eligibility_properties,
    jit_changes,
    offline_changes,
    role_changes,
)
from mlops.rbac.check import Verdict, check
from mlops.rbac.model import ALL_PERSONAS, Assignment, CustomRole, RoleModel, role_model
from mlops.rbac.roles import Role, role_definition_id

if TYPE_CHECKING:
    from mlops.backends.azure.clients import AzureClients

#: (stack, event, detail), as in services.infra
OnEvent = Callable[[str, str, str], None]


@dataclass(frozen=True)
class ManagedScope:
    """A resource group of the platform, and whether it exists (no listing when it does not)."""

    subscription_id: str
    resource_group: str
    exists: bool | None

    @property
    def path(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"


def models(loaded: LoadedConfig, env: str | None) -> tuple[RoleModel, RoleModel]:
    """(the selected environment's part, the whole model)."""
    full = role_model(loaded.config)
    return full.for_env(env), full


def offline_stack(loaded: LoadedConfig, env: str | None) -> StackPlan:
    selected, _ = models(loaded, env)
    sub = loaded.config.azure.subscription_id
    return StackPlan(ROLES, "", sub, None, offline_changes(selected))


def plan_roles(
    loaded: LoadedConfig,
    env: str | None,
    clients: AzureClients,
    scopes: Sequence[ManagedScope],
) -> tuple[StackPlan, list[Targeted]]:
    """Compare the declared roles and assignments with Azure's."""
    from mlops.backends.azure import authorization

    selected, full = models(loaded, env)
    definitions = {}
    for custom in selected.custom_roles:
        assert custom.subscription_id  # online_reason() was checked by the caller
        client = clients.authorization(custom.subscription_id)
        at = f"/subscriptions/{custom.subscription_id}"
        definitions[custom.role.id] = authorization.get_definition(client, at, custom.role.id)
    observed = {}
    for scope in scopes:
        if scope.exists is False:
            continue  # a resource group about to be created holds no assignment yet
        client = clients.authorization(scope.subscription_id)
        for seen in authorization.list_assignments(client, scope.path):
            observed[seen.id.lower()] = seen
    targeted = role_changes(
        selected, full, definitions, list(observed.values()), [s.path for s in scopes]
    )
    jit = loaded.config.governance.just_in_time
    if jit is not None and selected.eligibilities:
        requests = {}
        for wanted in selected.eligibilities:
            client = clients.authorization(wanted.subscription_id or "")
            name = eligibility_name(wanted)
            requests[name] = authorization.get_eligibility_request(client, wanted.scope, name)
        policies = {}
        for limit in activation_limits(selected, jit.max_hours):
            client = clients.authorization(limit.scope.split("/")[2])
            rid = role_definition_id(
                builtin_or_custom(selected, limit.role_id), limit.scope.split("/")[2]
            )
            policies[(limit.scope.lower(), limit.role_id)] = authorization.get_activation_policy(
                client, limit.scope, rid
            )
        targeted += jit_changes(selected, requests, policies, jit.max_hours)
    sub = loaded.config.azure.subscription_id
    return StackPlan(ROLES, "", sub, True, tuple(c for c, _ in targeted)), targeted


def builtin_or_custom(model: RoleModel, role_id: str) -> Role:
    """The role of an id the model uses."""
    return next(g.role for g in model.grants if g.role.id == role_id)


def prunable(stack: StackPlan | None) -> int:
    if stack is None:
        return 0
    return sum(1 for c in stack.changes if c.action == "unmanaged" and c.prunable)


def apply_roles(
    loaded: LoadedConfig,
    clients: AzureClients,
    targeted: list[Targeted],
    *,
    prune: bool,
    notify: OnEvent,
    delays: Sequence[float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Definitions, then assignments, then removals; returns how many writes were made."""
    from mlops.backends.azure import authorization

    retry: dict[str, Any] = {}
    if delays is not None:
        retry["delays"] = delays
    if sleep is not None:
        retry["sleep"] = sleep
    writes = 0
    for change, target in targeted:
        if isinstance(target, CustomRole) and change.action in ("create", "modify"):
            sub = target.subscription_id or ""
            authorization.put_definition(
                clients.authorization(sub),
                f"/subscriptions/{sub}",
                target.role.id,
                definition_properties(target),
            )
            writes += 1
            notify(ROLES, "created" if change.action == "create" else "updated", change.name)
    for change, target in targeted:
        if change.type == ELIGIBILITY:
            continue  # after the standing assignments, below
        if isinstance(target, Assignment) and change.action in ("create", "modify"):
            scope, _, name = (change.resource_id or "").rpartition(f"/providers/{ASSIGNMENT}/")
            who = f"{target.principal.name} ({loaded.where(*target.principal.field)})"
            try:
                made = authorization.put_assignment(
                    clients.authorization(target.subscription_id or ""),
                    scope or target.scope,
                    name or target.name,
                    assignment_properties(target),
                    on_wait=lambda n, pause, who=who: notify(
                        ROLES, "waiting", f"{who} not replicated yet, try {n + 1} in {pause:.0f} s"
                    ),
                    **retry,
                )
            except BackendError as exc:
                raise BackendError(f"{change.name}: {exc.message}", hint=exc.hint) from None
            writes += 1
            verb = "exists" if not made else "created" if change.action == "create" else "updated"
            notify(ROLES, verb, change.name)
    jit = loaded.config.governance.just_in_time
    for change, target in targeted:
        if change.action not in ("create", "modify") or jit is None:
            continue
        if change.type == ELIGIBILITY and isinstance(target, Assignment):
            scope, _, name = (change.resource_id or "").rpartition(f"/providers/{ELIGIBILITY}/")
            authorization.put_eligibility_request(
                clients.authorization(target.subscription_id or ""),
                scope,
                name,
                eligibility_properties(target, jit.eligible_days),
            )
            writes += 1
            notify(ROLES, "eligible", change.name)
        elif isinstance(target, ActivationLimit) and change.resource_id:
            authorization.set_activation_limit(
                clients.authorization(target.scope.split("/")[2]),
                change.resource_id,
                target.duration,
            )
            writes += 1
            notify(ROLES, "limited", change.name)
    for change, _ in targeted:
        remove = change.action == "delete" or (
            prune and change.action == "unmanaged" and change.prunable
        )
        if remove and change.type == ASSIGNMENT and change.resource_id:
            sub = change.resource_id.split("/")[2]
            authorization.delete_assignment(clients.authorization(sub), change.resource_id)
            writes += 1
            notify(ROLES, "removed" if change.action == "delete" else "pruned", change.name)
    return writes


# --- audit --------------------------------------------------------------------------------


def persona(name: str, team: str | None = None) -> str:
    """A persona as mlops.yaml spells it; `data-scientists` and `data_scientist` work too.
    With `team`, one of a team's personas (data_scientists, engineers, pipelines)."""
    from mlops.rbac.teams import TEAM_PERSONAS

    choices = TEAM_PERSONAS if team is not None else ALL_PERSONAS
    key = name.strip().lower().replace("-", "_")
    for candidate in choices:
        if key in (candidate, candidate.rstrip("s"), candidate + "s"):
            return candidate
    where = f"of team '{team}' " if team is not None else ""
    raise BadInputError(
        f"unknown persona {where}'{name}'", hint=f"choose one of: {', '.join(choices)}"
    )


def team(loaded: LoadedConfig, name: str | None, option: str = "--team") -> str | None:
    """A team declared under `teams:` (exit 2 naming the declared ones otherwise)."""
    if name is None:
        return None
    declared = loaded.config.teams
    if name not in declared:
        raise BadInputError(
            f"{option}: team '{name}' is not declared under teams in {loaded.path.name}",
            hint=f"choose one of: {', '.join(declared)}"
            if declared
            else "onboard one with `mlops team add`",
        )
    return name


def environment(loaded: LoadedConfig, env: str | None) -> str | None:
    azure_envs = loaded.config.environments.azure
    if env is not None and env not in azure_envs:
        raise BadInputError(
            f"environment '{env}' is not an Azure environment of {loaded.path.name}",
            hint=f"choose one of: {', '.join(azure_envs)}" if azure_envs else None,
        )
    return env


@dataclass(frozen=True)
class MatrixRow:
    team: str  # "" for the platform's own personas
    persona: str
    env: str
    scope: str  # e.g. "workspace mlw-mlops-diagnosis-dev"
    role: str
    principals: tuple[str, ...]
    only_roles: tuple[str, ...]  # a condition's list of roles its holders may assign
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "team": self.team or None,
            "persona": self.persona,
            "env": self.env,
            "scope": self.scope,
            "role": self.role,
            "principals": list(self.principals),
            "only_roles": list(self.only_roles),
            "why": self.why,
        }


def matrix(loaded: LoadedConfig, env: str | None, team_name: str | None = None) -> list[MatrixRow]:
    """Persona x environment x scope x role, with who holds each (for auditors); the
    platform's personas first, then each team's (`team_name`: that team's only)."""
    from mlops.rbac.model import grant_principals
    from mlops.rbac.teams import TEAM_PERSONAS

    selected, _ = models(loaded, environment(loaded, env))
    wanted = team(loaded, team_name)
    order: dict[str, int] = {}
    for persona_name in (*ALL_PERSONAS, *TEAM_PERSONAS):  # data_scientists is in both
        order.setdefault(persona_name, len(order))
    rows = [
        MatrixRow(
            g.team or "",
            g.persona,
            g.env,
            g.scope.label,
            g.role.name + (" (eligible, just in time)" if g.eligible else ""),
            tuple(p.name for p in grant_principals(loaded.config, g)),
            tuple(r.name for r in g.assignable),
            g.why,
        )
        for g in selected.grants
        if wanted is None or g.team == wanted
    ]
    return sorted(rows, key=lambda r: (r.team, order[r.persona]))


#: what `rbac matrix` says under every table: the control Azure does not offer
SERVERLESS_NOTE = (
    "Serverless compute: Azure RBAC has no operation that tells a serverless job from a job"
    " on an existing cluster (both are workspaces/jobs/write), and no documented Azure Policy"
    " alias does either. Azure denies serverless Spark once the policy"
    " infra/policies/deny-serverless-spark.json is deployed (by hand: `az deployment sub"
    " create`; provision does not deploy it); serverless command and pipeline jobs are"
    " refused by `mlops run --env` only, not by Azure."
)


def check_operation(
    loaded: LoadedConfig,
    who: str,
    operation: str,
    env: str,
    *,
    data: bool | None = None,
    team_name: str | None = None,
    target_team: str | None = None,
) -> Verdict:
    """`rbac check`; with `team_name` for a team's persona, on `target_team`'s resources
    (default: its own)."""
    if "/" not in operation:
        raise BadInputError(
            f"'{operation}' is not an Azure operation",
            hint="e.g. Microsoft.MachineLearningServices/workspaces/computes/write",
        )
    name = environment(loaded, env)
    assert name is not None
    full = role_model(loaded.config)
    own = team(loaded, team_name)
    other = team(loaded, target_team, "--on-team")
    return check(
        loaded.config,
        full,
        persona(who, own),
        operation,
        name,
        data=data,
        team=own,
        target_team=other,
    )
