"""`mlops plan` and `mlops provision`: ARM what-if per stack, then exactly the approved changes.

Stacks are applied in order: the shared stack (the model registry the environments' private
endpoints point at) first, then each environment, then the roles (custom role definitions
and the personas' assignments, see services.rbac), then the budgets and the teams' workspace
quotas (services.quotas). `--env E` selects E and the shared stack.

Each infrastructure stack is an ARM deployment stack named `mlops-<project>-<stack>`
(mlops.plan.stacks): a resource removed from mlops.yaml is planned and applied as a detach
(or a delete with --prune), deny settings make Azure refuse hand edits, and a stack that is
still deploying makes `provision` refuse to start (one run at a time per project).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.config.loader import LoadedConfig
from mlops.errors import BackendError, BadInputError, ConfigError
from mlops.plan.changes import (
    ROLES,
    Plan,
    PropertyChange,
    ResourceChange,
    StackPlan,
    digest,
    same_changes,
)
from mlops.plan.devops import DEVOPS, devops_spec
from mlops.plan.roles import Targeted
from mlops.plan.stacks import StackState, stack_name
from mlops.render.arm import Template
from mlops.render.files import SHARED, render, stacks
from mlops.services import devops, quotas, rbac
from mlops.services.quotas import BUDGETS, QUOTAS, OnEvent
from mlops.services.stacks import (
    ProvisionInterrupted,
    check_unlocked,
    refuse_if_running,
    running_message,
    stack_settings,
    unmanaged,
)
from mlops.services.stacks import issues as stack_issues

if TYPE_CHECKING:
    from mlops.backends.azure.clients import AzureClients


@dataclass(frozen=True)
class Stack:
    name: str
    resource_group: str
    subscription_id: str | None
    location: str | None
    template: Template
    project: str = ""

    @property
    def deployment_name(self) -> str:
        """The deployment stack's name (and the what-if's): projects sharing a resource group
        keep apart."""
        return stack_name(self.project, self.name)

    @property
    def show_command(self) -> str:
        return f"az stack group show -g {self.resource_group} -n {self.deployment_name}"

    def arm(self) -> dict[str, Any]:
        return self.template.to_arm()

    def parameters(self) -> dict[str, Any]:
        return self.template.parameters_file()["parameters"]


def refuse_bound(loaded: LoadedConfig) -> None:
    """Exit 2 in a model repository bound to a platform, which provisions its infrastructure."""
    if (ref := loaded.config.platform) is not None:
        from mlops.config.loader import display_near

        there = display_near(loaded.platform.path) if loaded.platform else ref.path
        raise BadInputError(
            f"{loaded.path.name} binds this model repository to the platform at '{ref.path}'"
            f" (team {ref.team}): its workspaces, network and roles are planned there",
            hint=f"run `mlops plan` and `mlops provision` there (`mlops -c {there} plan`)",
        )


def select(loaded: LoadedConfig, env: str | None) -> list[Stack]:
    """The stacks to plan or apply, in apply order (exit 2: unknown environment, bound repo)."""
    refuse_bound(loaded)
    config = loaded.config
    azure_envs = config.environments.azure
    if env is not None and env != SHARED and env not in azure_envs:
        known = ", ".join([*azure_envs, SHARED])
        raise BadInputError(
            f"environment '{env}' is not in {loaded.path.name}",
            hint=f"choose one of: {known}" if azure_envs else "declare it under environments",
        )
    out = []
    for name, template in stacks(config).items():
        if env is not None and name not in (SHARED, env):
            continue
        if name == SHARED:
            rg = config.azure.shared_resource_group or ""
            sub, location = config.azure.subscription_id, config.azure.location
        else:
            spec = azure_envs[name]
            rg = spec.resource_group or ""
            sub = spec.subscription_id or config.azure.subscription_id
            location = spec.location or config.azure.location
        out.append(Stack(name, rg, sub, location, template, config.project.name))
    return out


def config_digest(loaded: LoadedConfig) -> str:
    return digest([(f.path, f.text) for f in render(loaded.config)])


def offline_plan(loaded: LoadedConfig, env: str | None, reason: str) -> Plan:
    """Every rendered resource as a create: what the templates hold, with no Azure call."""
    made = Plan(
        config_digest=config_digest(loaded),
        stacks=(
            *(
                StackPlan(
                    stack=s.name,
                    resource_group=s.resource_group,
                    subscription_id=s.subscription_id,
                    resource_group_exists=None,
                    changes=_all_create(s),
                )
                for s in select(loaded, env)
            ),
            rbac.offline_stack(loaded, env),
            *([devops.offline_stack(loaded)] if _with_devops(loaded, env) else []),
            *quotas.offline_stacks(loaded, env, select(loaded, env)),
        ),
        offline=True,
        reason=reason,
        meta={"project": loaded.config.project.name, "env": env},
    )
    return _with_teams(made, loaded)


def _all_create(stack: Stack) -> tuple[ResourceChange, ...]:
    """Each rendered resource as a create, with its security- and cost-relevant settings."""
    return tuple(
        ResourceChange("create", r.type, r.name, properties=_highlights(stack, r))
        for r in stack.template.resources
    )


def _highlights(stack: Stack, resource: Any) -> tuple[PropertyChange, ...]:
    from mlops.render.infra.highlights import highlights

    return tuple(
        PropertyChange(path, "create", after=value)
        for path, value in highlights(stack.template, resource)
    )


def _with_highlights(stack: Stack, changes: tuple[ResourceChange, ...]) -> list[ResourceChange]:
    """What-if's creates with the settings a reviewer approves (public access, isolation,
    SKU, network rules), read from the rendered resource: what-if gives a create no
    property differences. A modify keeps exactly what-if's differences (noise rules read
    them)."""
    rendered = {(r.type.lower(), r.name.lower()): r for r in stack.template.resources}
    out = []
    for change in changes:
        resource = rendered.get((change.type.lower(), change.name.lower()))
        if change.action == "create" and not change.properties and resource is not None:
            change = replace(change, properties=_highlights(stack, resource))
        out.append(change)
    return out


def _with_teams(plan: Plan, loaded: LoadedConfig) -> Plan:
    """The plan with its changes grouped by team in `meta["teams"]` (with `teams:` only)."""
    from mlops.plan.teams import by_team

    grouped = by_team(loaded.config, plan.stacks)
    return replace(plan, meta={**plan.meta, "teams": grouped}) if grouped else plan


def online_reason(loaded: LoadedConfig, env: str | None) -> str | None:
    """Why a plan must be offline before any credential is tried, or None."""
    missing = [s.name for s in select(loaded, env) if not s.subscription_id]
    if missing:
        return f"no subscription id for {', '.join(missing)} (set azure.subscription_id)"
    return None


def plan(
    loaded: LoadedConfig, env: str | None, clients: AzureClients, *, prune: bool = False
) -> Plan:
    """ARM what-if for each selected stack (a missing resource group: everything is new),
    plus what its deployment stack manages that the template no longer holds (detach, or
    delete with `prune`), then the role definitions and assignments compared with Azure's."""
    return _plan(loaded, env, clients, prune=prune)[0]


def _with_devops(loaded: LoadedConfig, env: str | None) -> bool:
    """Azure DevOps objects are project-wide: planned with the whole platform (no --env),
    once mlops.yaml names the organisation."""
    return env is None and devops.enabled(loaded)


@dataclass
class _Work:
    targeted: list[Targeted]
    devops: devops.Work | None = None
    #: each infrastructure stack's deployment stack as read while planning (None: none yet)
    stacks: dict[str, StackState | None] = field(default_factory=dict)


def _plan(
    loaded: LoadedConfig, env: str | None, clients: AzureClients, *, prune: bool = False
) -> tuple[Plan, _Work]:
    from mlops.backends.azure import arm
    from mlops.backends.azure import stacks as arm_stacks

    stack_plans = []
    selected = select(loaded, env)
    states: dict[str, StackState | None] = {}
    for s in selected:
        assert s.subscription_id  # online_reason() was checked by the caller
        resources = clients.resources(s.subscription_id)
        exists = arm.resource_group_exists(resources, s.resource_group)
        diagnostics: tuple[str, ...] = ()
        state = None
        if not exists:
            changes = _all_create(s)
        else:
            changes = arm.what_if(
                clients.deployments(s.subscription_id),
                s.resource_group,
                s.deployment_name,
                s.arm(),
                s.parameters(),
            )
            # what-if's diagnostics (kept by StackPlan from the what-if's changes)
            diagnostics = tuple(getattr(changes, "diagnostics", ()))
            changes = tuple(_with_highlights(s, changes))
            state = arm_stacks.get(
                clients.stacks(s.subscription_id), s.resource_group, s.deployment_name
            )
            if state is not None:
                action = stack_settings(loaded, s.name, prune=prune).action_on_unmanage
                changes = unmanaged(changes, state, action)
                if state.running:
                    diagnostics += (f"WARNING {running_message(s, state)}",)
        states[s.name] = state
        stack_plans.append(
            StackPlan(s.name, s.resource_group, s.subscription_id, exists, changes, diagnostics)
        )
    scopes = [
        rbac.ManagedScope(s.subscription_id or "", s.resource_group, p.resource_group_exists)
        for s, p in zip(selected, stack_plans, strict=True)
    ]
    roles, targeted = rbac.plan_roles(loaded, env, clients, scopes)
    stack_plans.append(roles)
    work = _Work(targeted, stacks=states)
    if _with_devops(loaded, env):
        from mlops.backends.azure.devops import Project

        spec = devops_spec(loaded.config)
        connection = clients.devops(loaded.config.devops.organization_url or "")
        stack, work.devops = devops.plan_devops(
            loaded, Project(connection, spec.project, spec.repository)
        )
        stack_plans.append(stack)
    stack_plans += quotas.plan_stacks(loaded, env, selected, clients)
    meta = {"project": loaded.config.project.name, "env": env, "prune": prune}
    fresh = Plan(config_digest(loaded), tuple(stack_plans), offline=False, meta=meta)
    return _with_teams(fresh, loaded), work


def load_plan(path: Path, loaded: LoadedConfig) -> Plan:
    """A saved plan, refused (exit 2) when unreadable or made from another configuration."""
    try:
        saved = Plan.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise BadInputError(
            f"{path}: no such plan file", hint="save one with `mlops plan --out`"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(
            f"{path}: not a plan saved by `mlops plan --out` ({exc})",
            hint="save a fresh one with `mlops plan --out plan.json`",
        ) from None
    if saved.offline:
        raise BadInputError(
            f"{path} is an offline plan: it lists what the templates hold, not what Azure"
            " would change",
            hint="make the plan signed in to Azure, without --offline",
        )
    if saved.config_digest != config_digest(loaded):
        raise BadInputError(
            f"{path} was made from another configuration than {loaded.path.name}"
            f" (project '{saved.meta.get('project')}')",
            hint="run `mlops plan --out` again from this mlops.yaml and review it",
        )
    return saved


def check_prerequisites(loaded: LoadedConfig, env: str | None) -> None:
    """What provisioning needs from mlops.yaml, all reported at once (exit 2)."""
    config = loaded.config
    problems = []
    selected = select(loaded, env)
    if any(not s.subscription_id for s in selected):
        problems.append(
            loaded.issue(
                ("azure", "subscription_id"),
                "is needed to provision",
                "az account show --query id -o tsv",
            )
        )
    if any(s.name != SHARED for s in selected):
        if not config.network.build_agents.dev_center_project_id:
            problems.append(
                loaded.issue(
                    ("network", "build_agents", "dev_center_project_id"),
                    "is needed to provision the private build-agent pool",
                    "create a Dev Center project once (az devcenter admin project create)"
                    " and put its resource id here",
                )
            )
        if not config.devops.organization_url:
            problems.append(
                loaded.issue(
                    ("devops", "organization_url"),
                    "is needed to provision the private build-agent pool",
                    "e.g. https://dev.azure.com/contoso",
                )
            )
    if _with_devops(loaded, env):
        problems += devops.prerequisites(loaded)
    problems += stack_issues(loaded)
    if problems:
        raise ConfigError(f"{loaded.path.name} lacks what provisioning needs", issues=problems)


@dataclass
class ProvisionResult:
    plan: Plan
    applied: list[str] = field(default_factory=list)
    created_resource_groups: list[str] = field(default_factory=list)
    role_writes: int = 0
    #: remediation tasks created for the resource-log policies, as `stack: assignment/ref`
    remediations: list[str] = field(default_factory=list)
    #: the budgets written (their ids)
    budgets: list[str] = field(default_factory=list)
    #: the teams' workspace quotas set (their ids)
    quotas: list[str] = field(default_factory=list)
    #: new service connections: the issuer and subject their identity must trust
    federation: list[dict[str, str]] = field(default_factory=list)


def provision(
    loaded: LoadedConfig,
    env: str | None,
    clients: AzureClients,
    *,
    saved: Plan | None = None,
    confirm: Callable[[Plan], bool] = lambda _plan: True,
    on_event: OnEvent | None = None,
    poll_seconds: float = 5.0,
    prune: bool = False,
    replication_delays: Sequence[float] | None = None,
) -> ProvisionResult:
    """Apply the stacks whose what-if shows writes; a converged platform gets no write.

    Unmanaged role assignments (users' and groups' roles at the platform's scopes that
    mlops.yaml does not declare) are removed only with `prune`.
    """
    from mlops.backends.azure import arm
    from mlops.backends.azure import stacks as arm_stacks

    check_prerequisites(loaded, env)
    if saved is not None:
        env = saved.meta.get("env")
        prune = prune or bool(saved.meta.get("prune"))  # a plan made with --prune deletes
    selected = select(loaded, env)
    fresh, work = _plan(loaded, env, clients, prune=prune)
    refuse_if_running(selected, work.stacks)
    if saved is not None:
        drifted = [
            s.stack
            for s in fresh.stacks
            if (old := saved.stack(s.stack)) is None
            or not same_changes(old, s)
            or old.resource_group_exists != s.resource_group_exists
        ]
        if drifted:
            raise BackendError(
                "Azure no longer matches the saved plan for " + ", ".join(drifted),
                hint="someone changed the resources since the plan was made: run"
                " `mlops plan --out` again and review it",
            )
    result = ProvisionResult(plan=fresh)
    pruning = prune and rbac.prunable(fresh.stack(ROLES)) > 0
    if not (fresh.has_changes or pruning) or not confirm(fresh):
        return result
    by_name = {s.name: s for s in selected}
    notify = on_event or (lambda *_: None)
    for stack_plan in fresh.stacks:
        if stack_plan.stack in (ROLES, DEVOPS, BUDGETS, QUOTAS) or not stack_plan.has_writes:
            continue
        s = by_name[stack_plan.stack]
        assert s.subscription_id
        if arm.ensure_resource_group(
            clients.resources(s.subscription_id),
            s.resource_group,
            s.location or "",
            s.template.tags,
        ):
            result.created_resource_groups.append(s.resource_group)
            notify(s.name, "resource-group", s.resource_group)
        notify(s.name, "deploying", s.deployment_name)
        try:
            arm_stacks.deploy(
                clients.stacks(s.subscription_id),
                clients.deployments(s.subscription_id),
                s.resource_group,
                s.deployment_name,
                s.arm(),
                s.parameters(),
                stack_settings(loaded, s.name, prune=prune),
                tags=s.template.tags,
                on_operation=lambda rtype, name, state, stack=s.name: notify(
                    stack, state, f"{rtype}/{name}"
                ),
                poll_seconds=poll_seconds,
            )
        except Exception:
            raise
        except BaseException as stopped:  # Ctrl-C, SIGTERM: ARM deploys on without us
            raise ProvisionInterrupted(s, stopped) from None
        result.applied.append(s.name)
        notify(s.name, "done", s.resource_group)
        result.remediations += remediate(s, clients, notify)
    roles = fresh.stack(ROLES)
    ado = fresh.stack(DEVOPS)
    if (roles is not None and (roles.has_writes or pruning)) or (
        ado is not None and ado.has_writes
    ):
        check_unlocked(selected, clients)
    if roles is not None and (roles.has_writes or pruning):
        result.role_writes = rbac.apply_roles(
            loaded, clients, work.targeted, prune=prune, notify=notify, delays=replication_delays
        )
        result.applied.append(ROLES)
    if ado is not None and ado.has_writes and work.devops is not None:
        devops.apply(work.devops, notify)
        result.applied.append(DEVOPS)
        result.federation = devops.federation(work.devops)
    written = quotas.apply_budgets(loaded, env, selected, clients, fresh, notify)
    if written is not None:
        result.budgets = written
        result.applied.append(BUDGETS)
    set_quotas = quotas.apply_quotas(loaded, selected, clients, fresh, notify)
    if set_quotas is not None:
        result.quotas = set_quotas
        result.applied.append(QUOTAS)
    return result


def remediate(stack: Stack, clients: AzureClients, notify: OnEvent) -> list[str]:
    """A remediation task per policy (per member of an initiative) that covers a resource
    of the stack just applied: DeployIfNotExists acts only on resources created or updated
    after its assignment, and a task brings the others into line
    (/azure/azure-monitor/platform/diagnostics-settings-policies-deployifnotexists). Task
    names carry the template's digest: re-running one apply creates no second task."""
    from mlops.backends.azure import policy
    from mlops.render.infra.diagnostics import remediations

    wanted = remediations(stack.template)
    if not wanted:
        return []
    assert stack.subscription_id
    client = policy.client(clients, stack.subscription_id)
    template = digest([("template", json.dumps(stack.arm(), sort_keys=True))])[:8]
    created = []
    for task in wanted:
        assignment_id = (
            f"/subscriptions/{stack.subscription_id}/resourceGroups/{stack.resource_group}"
            f"/providers/Microsoft.Authorization/policyAssignments/{task.assignment}"
        )
        name = f"{task.assignment}-{task.reference_id or 'all'}-{template}"
        if policy.remediate(client, stack.resource_group, name, assignment_id, task.reference_id):
            created.append(f"{stack.name}: {task.label}")
            notify(stack.name, "remediation", task.label)
    return created
