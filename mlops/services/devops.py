"""The Azure DevOps part of `mlops plan` and `mlops provision`: the project's teams, pipelines,
environments with their checks, branch policies, variable groups and service connections.

Each object is found by name and compared with what mlops.yaml implies; only what is missing
or differs is written, so an unchanged second provision writes nothing. Objects are applied
in dependency order (pipelines before the build-validation policy that names ci.yml,
environments before their checks), and a failure halfway leaves what was made, which the
next run finds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops.config.loader import LoadedConfig
from mlops.errors import Issue
from mlops.plan.changes import ResourceChange, StackPlan
from mlops.plan.devops import (
    BUILD_POLICY,
    COMMENTS_POLICY,
    DEVOPS,
    MIN_REVIEWERS_POLICY,
    DevOpsSpec,
    approval_matches,
    approval_settings,
    branch_matches,
    branch_settings,
    devops_spec,
    policy_settings,
    settings_match,
)

if TYPE_CHECKING:
    from mlops.backends.azure.devops import Project

OnEvent = Callable[[str, str, str], None]
POLICY_NAMES = {
    MIN_REVIEWERS_POLICY: "minimum reviewers",
    BUILD_POLICY: "build validation (ci.yml)",
    COMMENTS_POLICY: "comments resolved",
}


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
    """Azure DevOps is part of the platform once mlops.yaml names the organisation."""
    return bool(loaded.config.devops.organization_url)


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
    for conn in spec.connections:
        if conn.client_id is None:
            problems.append(
                loaded.issue(
                    conn.field,
                    f"is needed for the service connection {conn.name}",
                    "an app registration or managed identity with a federated credential"
                    " for this service connection: {client_id, object_id}",
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
    out += [("AzureDevOps/permissions", f"{spec.teams[-1][0]}: pipelines in {spec.folder}")]
    out += [("AzureDevOps/environments", env) for env in spec.environments]
    out += [("AzureDevOps/checks", f"{a.env}: approval") for a in spec.approvals]
    out += [("AzureDevOps/checks", f"{env}: branch control") for env in spec.branch_control]
    out += [("AzureDevOps/policies", f"{spec.branch}: {n}") for n in POLICY_NAMES.values()]
    out += [("AzureDevOps/variablegroups", name) for name, _ in spec.variable_groups]
    out += [("AzureDevOps/serviceconnections", c.name) for c in spec.connections]
    return out


def plan_devops(loaded: LoadedConfig, project: Project) -> tuple[StackPlan, Work]:
    """Compare the project with mlops.yaml; each change carries how to apply it."""
    spec = devops_spec(loaded.config)
    seen = project.read(
        [c.name for c in spec.connections], [name for name, _ in spec.variable_groups]
    )
    steps: list[Step] = []

    def add(action: str, kind: str, name: str, apply: Callable[[dict[str, Any]], None]) -> None:
        steps.append(Step(ResourceChange(action, f"AzureDevOps/{kind}", name), apply))

    def same(kind: str, name: str) -> None:
        steps.append(Step(ResourceChange("no-change", f"AzureDevOps/{kind}", name), None))

    ids: dict[str, Any] = {"project": seen.project_id, "repository": seen.repository_id}
    ids.update({f"team:{n}": i for n, i in seen.teams.items()})
    ids.update({f"pipeline:{n}": i for n, i in seen.pipelines.items()})
    ids.update({f"environment:{n}": i for n, i in seen.environments.items()})
    for name, description in spec.teams:
        if name in seen.teams:
            same("teams", name)
        else:

            def create_team(ids: dict[str, Any], n: str = name, d: str = description) -> None:
                ids[f"team:{n}"] = project.create_team(ids["project"], n, d)

            add("create", "teams", name, create_team)
    _memberships(loaded, spec, seen, project, add, same, ids)
    for name, path in spec.pipelines:
        if name in seen.pipelines:
            same("pipelines", name)
        else:

            def create_pipeline(ids: dict[str, Any], n: str = name, p: str = path) -> None:
                ids[f"pipeline:{n}"] = project.create_pipeline(spec.folder, n, p, ids["repository"])

            add("create", "pipelines", name, create_pipeline)
    _pipeline_permissions(spec, seen, project, add, same)
    for env in spec.environments:
        if env in seen.environments:
            same("environments", env)
        else:

            def create_environment(ids: dict[str, Any], e: str = env) -> None:
                ids[f"environment:{e}"] = project.create_environment(
                    e, f"{e}: deployments wait for its checks. Managed by mlops."
                )

            add("create", "environments", env, create_environment)
    for approval in spec.approvals:
        found = seen.checks.get((approval.env, "approval"))
        if approval_matches(approval, found):
            same("checks", f"{approval.env}: approval")
            continue

        def put_approval(ids: dict[str, Any], a=approval, existing=found) -> None:
            approvers = [project.identity_id(object_id) for _, object_id in a.approvers]
            project.put_check(
                a.env,
                ids[f"environment:{a.env}"],
                "approval",
                approval_settings(a, approvers),
                a.timeout_minutes,
                existing["id"] if existing else None,
            )

        add("modify" if found else "create", "checks", f"{approval.env}: approval", put_approval)
    for env in spec.branch_control:
        found = seen.checks.get((env, "branch"))
        if branch_matches(spec.branch, found):
            same("checks", f"{env}: branch control")
            continue

        def put_branch(ids: dict[str, Any], e=env, existing=found) -> None:
            project.put_check(
                e,
                ids[f"environment:{e}"],
                "branch",
                branch_settings(spec.branch),
                1440,
                existing["id"] if existing else None,
            )

        add("modify" if found else "create", "checks", f"{env}: branch control", put_branch)
    ci_name = spec.pipelines[0][0]
    wanted = policy_settings(spec, seen.repository_id or "", ids.get(f"pipeline:{ci_name}"))
    for type_id, label in POLICY_NAMES.items():
        found = seen.policies.get(type_id)
        if type_id in wanted and settings_match(wanted[type_id], found):
            same("policies", f"{spec.branch}: {label}")
            continue

        def put_policy(ids: dict[str, Any], t=type_id, existing=found) -> None:
            settings = policy_settings(spec, ids["repository"], ids.get(f"pipeline:{ci_name}"))
            project.put_policy(t, settings[t], existing["id"] if existing else None)

        add("modify" if found else "create", "policies", f"{spec.branch}: {label}", put_policy)
    for name, values in spec.variable_groups:
        found_group = seen.variable_groups.get(name)
        if found_group is not None and found_group[1] == dict(values):
            same("variablegroups", name)
            continue

        def put_group(ids: dict[str, Any], n=name, v=values, existing=found_group) -> None:
            group = existing[0] if existing else None
            project.put_variable_group(ids["project"], n, dict(v), group)

        add("modify" if found_group else "create", "variablegroups", name, put_group)
    for conn in spec.connections:
        if conn.name in seen.connections:
            same("serviceconnections", conn.name)
            continue

        def create_connection(ids: dict[str, Any], c=conn) -> None:
            issuer, subject = project.create_connection(
                ids["project"],
                c.name,
                c.tenant_id or "",
                c.client_id or "",
                c.subscription_id or "",
            )
            ids.setdefault("federation", []).append(
                {
                    "connection": c.name,
                    "client_id": c.client_id,
                    "issuer": issuer,
                    "subject": subject,
                }
            )

        add("create", "serviceconnections", conn.name, create_connection)
    stack = StackPlan(DEVOPS, spec.project, None, True, tuple(s.change for s in steps))
    return stack, Work(steps, ids)


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


#: Build permissions data scientists' team is denied on the platform's pipeline folder: they
#: change pipelines through pull requests to .azuredevops/, never by editing definitions
PIPELINE_DENY = (
    ("EditBuildDefinition", 2048),
    ("DeleteBuildDefinition", 4096),
    ("AdministerBuildPermissions", 16384),
    ("EditPipelineQueueConfigurationPermission", 65536),
    ("DeleteBuilds", 8),
    ("DestroyBuilds", 32),
)
DENIED_BITS = sum(bit for _, bit in PIPELINE_DENY)
Add = Callable[[str, str, str, Callable[[dict[str, Any]], None]], None]
Same = Callable[[str, str], None]


def _memberships(
    loaded: LoadedConfig,
    spec: DevOpsSpec,
    seen: Any,
    project: Project,
    add: Add,
    same: Same,
    ids: dict[str, Any],
) -> None:
    """Each persona's Entra groups in its team (found read-only; added when missing)."""
    from mlops.config.platform import PERSONAS

    known = project.entra_groups()
    ids["groups"] = dict(known)
    persona_groups = loaded.config.identities.groups()
    for persona, (team, _) in zip(PERSONAS, spec.teams, strict=True):
        team_id = seen.teams.get(team)
        container = project.team_descriptor(team_id) if team_id else None
        for group in persona_groups[persona]:
            oid = str(group.object_id).lower()
            label = f"{team}: {group.name}"
            member = known.get(oid)
            if container and member and project.is_member(member, container):
                same("teammembers", label)
                continue

            def add_member(ids: dict[str, Any], t=team, o=oid, g=group.name) -> None:
                member = ids["groups"].get(o) or project.materialise(o)
                ids["groups"][o] = member
                container = project.team_descriptor(ids[f"team:{t}"])
                project.add_member(member, container, f"{g} to team {t}")

            add("create", "teammembers", label, add_member)


def _pipeline_permissions(
    spec: DevOpsSpec, seen: Any, project: Project, add: Add, same: Same
) -> None:
    team = spec.teams[-1][0]  # the data scientists'
    token = f"{seen.project_id}/{spec.folder.strip(chr(92)).replace(chr(92), '/')}"
    label = f"{team}: pipelines in {spec.folder} (no edit, delete or permission changes)"
    denied = 0
    team_id = seen.teams.get(team)
    if team_id:
        _, denied = project.pipeline_denies(project.team_descriptor(team_id), token)
    if denied & DENIED_BITS == DENIED_BITS:
        same("permissions", label)
        return

    def deny(ids: dict[str, Any]) -> None:
        descriptor, _ = project.pipeline_denies(project.team_descriptor(ids[f"team:{team}"]), token)
        project.deny_pipelines(descriptor, token, DENIED_BITS, f"pipeline permissions of {team}")

    add("modify" if denied else "create", "permissions", label, deny)
