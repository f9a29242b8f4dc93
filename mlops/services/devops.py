"""The Azure DevOps part of `mlops plan` and `mlops provision`: the project's teams, pipelines,
environments, variable groups, service connections, the checks on them and on the agent queues
of the Managed DevOps Pools, branch policies and which pipeline may use which resource.

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
from mlops.errors import BackendError, Issue
from mlops.plan.changes import PropertyChange, ResourceChange, StackPlan
from mlops.plan.devops import (
    BRANCH_TIMEOUT,
    BUILD_POLICY,
    COMMENTS_POLICY,
    DEVOPS,
    LOCK_TIMEOUT,
    MIN_REVIEWERS_POLICY,
    QUEUE_DENIED,
    REQUIRED_REVIEWERS_POLICY,
    Approval,
    BranchControl,
    CheckSpec,
    DevOpsSpec,
    Observed,
    approval_settings,
    branch_settings,
    check_drift,
    check_type,
    connection_drift,
    devops_spec,
    find_policy,
    is_managed_connection,
    is_ours,
    policy_drift,
    policy_settings,
)

if TYPE_CHECKING:
    from mlops.backends.azure.devops import Project

OnEvent = Callable[[str, str, str], None]
POLICY_NAMES = {
    MIN_REVIEWERS_POLICY: "minimum reviewers",
    BUILD_POLICY: "build validation (ci.yml)",
    COMMENTS_POLICY: "comments resolved",
    REQUIRED_REVIEWERS_POLICY: "platform engineers review .azuredevops/, infra/, mlops.yaml",
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
    out += [("AzureDevOps/permissions", _folder_label(spec))]
    out += [("AzureDevOps/permissions", _queue_label(spec, kind)) for kind in QUEUE_DENIED]
    out += [("AzureDevOps/environments", env) for env in spec.environments]
    out += [("AzureDevOps/variablegroups", name) for name, _ in spec.variable_groups]
    out += [("AzureDevOps/serviceconnections", c.name) for c in spec.connections]
    out += [("AzureDevOps/checks", c.label) for c in spec.checks]
    out += [("AzureDevOps/policies", f"{spec.branch}: {n}") for n in _policy_names(spec).values()]
    out += [("AzureDevOps/pipelinepermissions", _auth_label(r, u)) for r, u in spec.authorizations]
    return out


def _policy_names(spec: DevOpsSpec) -> dict[str, str]:
    return {
        t: label
        for t, label in POLICY_NAMES.items()
        if t != REQUIRED_REVIEWERS_POLICY or spec.required_reviewers
    }


def _auth_label(resource: tuple[str, str], users: tuple[str, ...]) -> str:
    return f"{resource[1]} ({resource[0]}): only {', '.join(users)}"


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
    _policies(spec, seen, project, add, same, ids)
    _authorizations(spec, seen, project, add, same)
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
            (kind, _resource_id(project, ids, kind, name), name),
            check_type(c),
            settings,
            timeout,
            found.id if found else None,
            c.label,
        )

    add("modify" if existing else "create", "checks", check.label, put_check, drift)


def _policies(
    spec: DevOpsSpec,
    seen: Observed,
    project: Project,
    add: Add,
    same: Same,
    ids: dict[str, Any],
) -> None:
    """This repository's policies on its default branch, found by repository, branch and
    type; the project's other policies (other repositories', project-wide) are not touched."""
    ci_name = spec.pipelines[0][0]
    repository = seen.repository_id or ""
    reviewers = [
        seen.identities.get(oid.lower(), f"(group {oid})") for _, oid in spec.required_reviewers
    ]
    wanted = policy_settings(spec, repository, ids.get(f"pipeline:{ci_name}"), reviewers)
    for type_id, label in _policy_names(spec).items():
        found = find_policy(seen.policies, type_id, repository, spec.branch)
        drift = policy_drift(wanted[type_id], found) if found and type_id in wanted else []
        if found is not None and type_id in wanted and not drift:
            same("policies", f"{spec.branch}: {label}")
            continue

        def put_policy(ids: dict[str, Any], t=type_id, existing=found, name=label) -> None:
            resolved = [project.identity_id(oid) for _, oid in spec.required_reviewers]
            settings = policy_settings(
                spec, ids["repository"], ids.get(f"pipeline:{ci_name}"), resolved
            )
            project.put_policy(t, settings[t], existing["id"] if existing else None, name)

        action = "modify" if found else "create"
        add(action, "policies", f"{spec.branch}: {label}", put_policy, drift)


def _authorizations(
    spec: DevOpsSpec, seen: Observed, project: Project, add: Add, same: Same
) -> None:
    """Each protected resource open to exactly the pipelines that use it (not to all)."""
    for (kind, name), users in spec.authorizations:
        label = _auth_label((kind, name), users)
        resource_id = _seen_id(seen, kind, name)
        current = seen.permissions.get((kind, resource_id)) if resource_id else None
        wanted = frozenset(seen.pipelines[u] for u in users if u in seen.pipelines)
        if current == (False, wanted) and len(wanted) == len(users):
            same("pipelinepermissions", label)
            continue
        drift = []
        if current is not None:
            drift.append(
                PropertyChange("pipelines", "modify", _authorized(current, seen), sorted(users))
            )

        def authorize(ids: dict[str, Any], k=kind, n=name, u=users) -> None:
            rid = _resource_id(project, ids, k, n)
            allowed = {int(ids[f"pipeline:{p}"]) for p in u}
            _, now = project.pipeline_permissions(k, rid)
            project.authorize(k, rid, allowed, set(now) - allowed)

        add("modify" if current else "create", "pipelinepermissions", label, authorize, drift)


def _resource_id(project: Project, ids: dict[str, Any], kind: str, name: str) -> str:
    """The id of a resource read or made so far; an agent queue is looked up once more (the
    Managed DevOps Pool that brings it may have been deployed since the plan was made)."""
    key = f"{kind}:{name}"
    if key not in ids and kind == "queue":
        found = project.queues([name]).get(name)
        if found is None:
            raise BackendError(
                f"the agent queue {name} is not in the Azure DevOps project",
                hint="the Managed DevOps Pool adds it once deployed (mlops provision deploys the"
                " pool first); a pool restricted to some projects must include this one",
            )
        ids[key] = str(found)
    return str(ids[key])


def _seen_id(seen: Observed, kind: str, name: str) -> str | None:
    if kind == "queue":
        queue = seen.queues.get(name)
        return str(queue) if queue is not None else None
    if kind == "environment":
        found = seen.environments.get(name)
        return str(found) if found is not None else None
    if kind == "endpoint":
        return seen.connections[name]["id"] if name in seen.connections else None
    group = seen.variable_groups.get(name)
    return str(group[0]) if group else None


def _authorized(current: tuple[bool, frozenset[int]], seen: Observed) -> list[str]:
    everyone, ids = current
    names = {i: n for n, i in seen.pipelines.items()}
    return ["(all pipelines)"] if everyone else sorted(names.get(i, f"#{i}") for i in ids)


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
#: queueing a run of cd or infra is deployment or provisioning: not the data scientists' to do
#: (bit 128 per the Build namespace's action list; read it with
#: `az devops security permission namespace show`)
QUEUE_BUILDS = 128
Add = Callable[..., None]
Same = Callable[..., None]


def _memberships(
    loaded: LoadedConfig,
    spec: DevOpsSpec,
    seen: Observed,
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


def _folder_label(spec: DevOpsSpec) -> str:
    team = spec.teams[-1][0]
    return f"{team}: pipelines in {spec.folder} (no edit, delete or permission changes)"


def _queue_label(spec: DevOpsSpec, kind: str) -> str:
    return f"{spec.teams[-1][0]}: cannot queue {kind}"


def _pipeline_permissions(
    spec: DevOpsSpec, seen: Observed, project: Project, add: Add, same: Same
) -> None:
    """Data scientists change pipelines only through pull requests (folder: no edit, delete or
    permission changes) and cannot queue the pipelines that deploy or provision."""
    team = spec.teams[-1][0]  # the data scientists'
    folder = spec.folder.strip("\\").replace("\\", "/")
    token = f"{seen.project_id}/{folder}"
    team_id = seen.teams.get(team)
    descriptor = project.team_descriptor(team_id) if team_id else None
    wanted = [(_folder_label(spec), None, DENIED_BITS)]
    wanted += [(_queue_label(spec, kind), kind, QUEUE_BUILDS) for kind in QUEUE_DENIED]
    names = dict(spec.pipelines)
    by_kind = {path.rsplit("/", 1)[-1].removesuffix(".yml"): n for n, path in names.items()}
    for label, kind, bits in wanted:
        pipeline = by_kind.get(kind) if kind else None
        pipeline_id = seen.pipelines.get(pipeline) if pipeline else None
        denied = 0
        if descriptor and (kind is None or pipeline_id is not None):
            target = token if kind is None else f"{token}/{pipeline_id}"
            _, denied = project.pipeline_denies(descriptor, target)
        if denied & bits == bits:
            same("permissions", label)
            continue

        def deny(ids: dict[str, Any], p=pipeline, b=bits, what=label) -> None:
            target = token if p is None else f"{token}/{ids[f'pipeline:{p}']}"
            found, _ = project.pipeline_denies(project.team_descriptor(ids[f"team:{team}"]), target)
            project.deny_pipelines(found, target, b, f"pipeline permissions: {what}")

        add("modify" if denied else "create", "permissions", label, deny)
