"""The Azure DevOps part of `mlops plan` and `mlops provision`: the project's teams, pipelines,
environments, variable groups, service connections, the checks on them and on the agent queues
of the Managed DevOps Pools, branch policies and which pipeline may use which resource.

With teams (`teams:` in the platform repository), each team's objects too: its two Azure
DevOps teams, model repositories, their pipelines and branch policies, and its environments
and service connections, usable only by its own pipelines (plan/devops.py says which).

The parts: devops_access.py (team members, pipeline denies and authorizations),
devops_policies.py (branch policies), devops_teams.py (each team's repositories, teams and
pipelines).

Each object is found by name (checks and policies by resource, repository, branch, type and
the platform's marker) and compared with what mlops.yaml implies on what matters; only what is
missing or differs is written, so an unchanged second provision writes nothing, and what
others made is left alone. Objects are applied in dependency order (pipelines before the
policies and permissions that name them, resources before their checks), and a failure
halfway leaves what was made, which the next run finds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops.config.loader import LoadedConfig
from mlops.errors import Issue
from mlops.plan.changes import PropertyChange, ResourceChange, StackPlan
from mlops.plan.devops import (
    DEVOPS,
    Approval,
    BranchControl,
    CheckSpec,
    DevOpsSpec,
    Observed,
    devops_spec,
)
from mlops.plan.devops_drift import (
    BRANCH_TIMEOUT,
    LOCK_TIMEOUT,
    approval_settings,
    branch_settings,
    check_drift,
    check_type,
    connection_drift,
    is_managed_connection,
    is_ours,
)
from mlops.services.devops_access import (
    Add,
    Same,
    auth_label,
    authorizations,
    find_resource_id,
    folder_label,
    memberships,
    pipeline_permissions,
    queue_denied,
    queue_label,
)
from mlops.services.devops_policies import (
    branch_policies,
    policy_names,
    team_policies,
    team_policy_names,
)
from mlops.services.devops_teams import platform_teams, team_denies

if TYPE_CHECKING:
    from mlops.backends.azure.devops import Project

OnEvent = Callable[[str, str, str], None]


@dataclass
class Step:
    change: ResourceChange
    apply: Callable[[dict[str, Any]], None] | None  # gets the ids known and made so far


@dataclass
class Work:
    """A DevOps plan's steps and the ids they start from (project, repository, found objects)."""

    steps: list[Step]
    ids: dict[str, Any]


def enabled(loaded: LoadedConfig) -> bool:
    """Azure DevOps is part of the platform once mlops.yaml names the organisation. A model
    repository bound to a platform has none of its own: its team's objects are the
    platform repository's to provision (its own would sign in as the platform's identities,
    around the team's)."""
    return bool(loaded.config.devops.organization_url) and loaded.config.platform is None


def prerequisites(loaded: LoadedConfig) -> list[Issue]:
    """What provisioning Azure DevOps needs from mlops.yaml, with the lines to fix."""
    config = loaded.config
    spec = devops_spec(config)
    problems = [loaded.issue(tuple(map(str, path)), message) for path, message in spec.unresolved]
    if not config.azure.tenant_id:
        problems.append(
            loaded.issue(
                ("azure", "tenant_id"),
                "is needed for the service connections' workload identity federation",
                "az account show --query tenantId -o tsv",
            )
        )
    # one identity may sign in several connections (`identities.promotion`: the platform's
    # and each team's): named once, with all of them
    missing: dict[tuple[str, ...], list[str]] = {}
    for conn in spec.connections:
        if conn.client_id is None:
            missing.setdefault(conn.field, []).append(conn.name)
    for where, names in missing.items():
        plural = "s" if len(names) > 1 else ""
        problems.append(
            loaded.issue(
                where,
                f"is needed for the service connection{plural} {', '.join(names)}",
                "an app registration or managed identity with a federated credential"
                f" for {'these' if plural else 'this'} service connection{plural}:"
                " {client_id, object_id}",
            )
        )
    return problems


def offline_stack(loaded: LoadedConfig) -> StackPlan:
    spec = devops_spec(loaded.config)
    changes = [ResourceChange("create", kind, name) for kind, name in _inventory(loaded, spec)]
    return StackPlan(DEVOPS, spec.project, None, None, tuple(changes))


def _inventory(loaded: LoadedConfig, spec: DevOpsSpec) -> list[tuple[str, str]]:
    from mlops.config.platform import PERSONAS

    groups = loaded.config.identities.groups()
    out = [("AzureDevOps/teams", name) for name, _ in spec.teams]
    out += [
        ("AzureDevOps/teammembers", f"{team}: {g.name}")
        for persona, (team, _) in zip(PERSONAS, spec.teams, strict=True)
        for g in groups[persona]
    ]
    out += [("AzureDevOps/pipelines", name) for name, _ in spec.pipelines]
    for team in spec.team_objects:
        out += [("AzureDevOps/repositories", name) for name in team.repositories]
        for name, _, members in team.devops_teams:
            out += [("AzureDevOps/teams", name)]
            out += [("AzureDevOps/teammembers", f"{name}: {g}") for g, _ in members]
        out += [("AzureDevOps/pipelines", name) for name, _, _ in team.pipelines]
        out += [("AzureDevOps/permissions", label) for label, _, _ in team_denies(team)]
        out += [
            ("AzureDevOps/policies", f"{repository} {spec.branch}: {label}")
            for repository in team.repositories
            for label in team_policy_names(team).values()
        ]
    out += [("AzureDevOps/permissions", folder_label(spec))]
    out += [("AzureDevOps/permissions", queue_label(spec, kind)) for kind in queue_denied(spec)]
    out += [("AzureDevOps/environments", env) for env in spec.environments]
    out += [("AzureDevOps/variablegroups", name) for name, _ in spec.variable_groups]
    out += [("AzureDevOps/serviceconnections", c.name) for c in spec.connections]
    out += [("AzureDevOps/checks", c.label) for c in spec.checks]
    out += [("AzureDevOps/policies", f"{spec.branch}: {n}") for n in policy_names(spec).values()]
    out += [("AzureDevOps/pipelinepermissions", auth_label(r, u)) for r, u in spec.authorizations]
    return out


def plan_devops(loaded: LoadedConfig, project: Project) -> tuple[StackPlan, Work]:
    """Compare the project with mlops.yaml; each change carries how to apply it."""
    spec = devops_spec(loaded.config)
    seen = project.read(spec)
    steps: list[Step] = []

    def add(
        action: str,
        kind: str,
        name: str,
        apply: Callable[[dict[str, Any]], None],
        drift: list[PropertyChange] | None = None,
    ) -> None:
        change = ResourceChange(action, f"AzureDevOps/{kind}", name, properties=tuple(drift or ()))
        steps.append(Step(change, apply))

    def same(kind: str, name: str, reason: str | None = None) -> None:
        change = ResourceChange("no-change", f"AzureDevOps/{kind}", name, reason=reason)
        steps.append(Step(change, None))

    ids: dict[str, Any] = {"project": seen.project_id, "repository": seen.repository_id}
    ids.update({f"team:{n}": i for n, i in seen.teams.items()})
    ids.update({f"pipeline:{n}": i for n, i in seen.pipelines.items()})
    ids.update({f"environment:{n}": str(i) for n, i in seen.environments.items()})
    ids.update({f"endpoint:{n}": c["id"] for n, c in seen.connections.items()})
    ids.update({f"variablegroup:{n}": str(g[0]) for n, g in seen.variable_groups.items()})
    ids.update({f"queue:{n}": str(i) for n, i in seen.queues.items()})
    if seen.repository_id:
        ids[f"repository:{spec.repository}"] = seen.repository_id
    for name, description in spec.teams:
        if name in seen.teams:
            same("teams", name)
        else:

            def create_team(ids: dict[str, Any], n: str = name, d: str = description) -> None:
                ids[f"team:{n}"] = project.create_team(ids["project"], n, d)

            add("create", "teams", name, create_team)
    memberships(loaded, spec, seen, project, add, same, ids)
    platform_teams(spec, seen, project, add, same, ids)
    for name, path in spec.pipelines:
        if name in seen.pipelines:
            same("pipelines", name)
        else:

            def create_pipeline(ids: dict[str, Any], n: str = name, p: str = path) -> None:
                ids[f"pipeline:{n}"] = project.create_pipeline(spec.folder, n, p, ids["repository"])

            add("create", "pipelines", name, create_pipeline)
    pipeline_permissions(spec, seen, project, add, same)
    for env in spec.environments:
        if env in seen.environments:
            same("environments", env)
        else:

            def create_environment(ids: dict[str, Any], e: str = env) -> None:
                ids[f"environment:{e}"] = str(
                    project.create_environment(
                        e, f"{e}: deployments wait for its checks. Managed by mlops."
                    )
                )

            add("create", "environments", env, create_environment)
    for name, values in spec.variable_groups:
        found_group = seen.variable_groups.get(name)
        if found_group is not None and found_group[1] == dict(values):
            same("variablegroups", name)
            continue

        def put_group(ids: dict[str, Any], n=name, v=values, existing=found_group) -> None:
            group = existing[0] if existing else None
            made = project.put_variable_group(ids["project"], n, dict(v), group)
            ids[f"variablegroup:{n}"] = str(made)

        add("modify" if found_group else "create", "variablegroups", name, put_group)
    _connections(spec, seen, project, add, same)
    for check in spec.checks:
        _check(check, seen, project, add, same)
    branch_policies(spec, seen, project, add, same, ids)
    for team in spec.team_objects:
        team_policies(spec, team, seen, project, add, same)
    authorizations(spec, seen, project, add, same)
    stack = StackPlan(DEVOPS, spec.project, None, True, tuple(s.change for s in steps))
    return stack, Work(steps, ids)


def _connections(spec: DevOpsSpec, seen: Observed, project: Project, add: Add, same: Same) -> None:
    """Create what is missing; point a connection mlops made back at its identity; leave one
    of the same name that someone else made as it is (and say so)."""
    for conn in spec.connections:
        found = seen.connections.get(conn.name)
        if found is not None and not is_managed_connection(found):
            same("serviceconnections", conn.name, "not made by mlops: left as it is")
            continue
        drift = connection_drift(conn, found) if found is not None else []
        if found is not None and not drift:
            same("serviceconnections", conn.name)
            continue

        def put_connection(ids: dict[str, Any], c=conn, existing=found) -> None:
            arguments = (c.tenant_id or "", c.client_id or "", c.subscription_id or "")
            if existing is None:
                made, issuer, subject = project.create_connection(
                    ids["project"], c.name, *arguments
                )
                ids[f"endpoint:{c.name}"] = made
            else:
                issuer, subject = project.update_connection(
                    ids["project"], existing["id"], c.name, *arguments
                )
            ids.setdefault("federation", []).append(
                {
                    "connection": c.name,
                    "client_id": c.client_id,
                    "issuer": issuer,
                    "subject": subject,
                }
            )

        add("modify" if found else "create", "serviceconnections", conn.name, put_connection, drift)


def _check(check: CheckSpec, seen: Observed, project: Project, add: Add, same: Same) -> None:
    """One check mlops keeps on a resource; the resource's other checks are not looked at."""
    mine = [c for c in seen.checks.get(check.resource, []) if is_ours(check, c)]
    existing = mine[0] if mine else None
    drift = check_drift(check, existing, seen.identities) if existing else []
    if existing is not None and not drift:
        same("checks", check.label)
        return

    def put_check(ids: dict[str, Any], c: CheckSpec = check, found=existing) -> None:
        kind, name = c.resource
        if isinstance(c, Approval):
            approvers = [project.identity_id(object_id) for _, object_id in c.approvers]
            settings, timeout = approval_settings(c, approvers), c.timeout_minutes
        elif isinstance(c, BranchControl):
            settings, timeout = branch_settings(c.branch), BRANCH_TIMEOUT
        else:
            settings, timeout = {}, LOCK_TIMEOUT
        project.put_check(
            (kind, find_resource_id(project, ids, kind, name), name),
            check_type(c),
            settings,
            timeout,
            found.id if found else None,
            c.label,
        )

    add("modify" if existing else "create", "checks", check.label, put_check, drift)


def apply(work: Work, notify: OnEvent) -> int:
    """Apply the steps that write, in order; returns how many were written."""
    writes = 0
    for step in work.steps:
        if step.apply is None:
            continue
        step.apply(work.ids)
        writes += 1
        verb = "created" if step.change.action == "create" else "updated"
        notify(DEVOPS, verb, f"{step.change.type} {step.change.name}")
    for item in work.ids.get("federation", []):
        credential = {
            "name": item["connection"],
            "issuer": item["issuer"],
            "subject": item["subject"],
            "audiences": ["api://AzureADTokenExchange"],
        }
        notify(
            DEVOPS,
            "federate",
            f"az ad app federated-credential create --id {item['client_id']}"
            f" --parameters '{json.dumps(credential)}'",
        )
    return writes


def federation(work: Work | None) -> list[dict[str, str]]:
    """What each new service connection's identity must trust (issuer and subject)."""
    return list(work.ids.get("federation", [])) if work else []
