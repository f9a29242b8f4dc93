"""Who may do what in the platform's Azure DevOps project (part of `mlops plan` and
`mlops provision`, mlops/services/devops.py): each persona's groups in its team, data
scientists kept from editing pipelines and queueing those that deploy or provision, and each
protected resource open to exactly the pipelines that use it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops.config.loader import LoadedConfig
from mlops.errors import BackendError
from mlops.plan.changes import PropertyChange
from mlops.plan.devops import QUEUE_DENIED, DevOpsSpec, Observed

if TYPE_CHECKING:
    from mlops.backends.azure.devops import Project

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


def auth_label(resource: tuple[str, str], users: tuple[str, ...]) -> str:
    return f"{resource[1]} ({resource[0]}): only {', '.join(users)}"


def memberships(
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


def pipeline_permissions(
    spec: DevOpsSpec, seen: Observed, project: Project, add: Add, same: Same
) -> None:
    """Data scientists change pipelines only through pull requests (folder: no edit, delete or
    permission changes) and cannot queue the pipelines that deploy or provision."""
    by_kind = pipelines_by_kind(spec)
    wanted: list[tuple[str, bool, str | None, int]] = [
        (folder_label(spec), True, None, DENIED_BITS)
    ]
    wanted += [
        (queue_label(spec, kind), False, by_kind[kind], QUEUE_BUILDS) for kind in queue_denied(spec)
    ]
    deny_pipelines(spec.teams[-1][0], spec.folder, wanted, seen, project, add, same)


def deny_pipelines(
    team: str,
    folder: str,
    wanted: list[tuple[str, bool, str | None, int]],
    seen: Observed,
    project: Project,
    add: Add,
    same: Same,
) -> None:
    """Deny Azure DevOps team `team` the permission `bits` of each (label, whole folder?,
    pipeline, bits) in `wanted`, on the pipelines folder or one pipeline in it: the platform's
    data scientists and each team's alike."""
    path = folder.strip("\\").replace("\\", "/")
    token = f"{seen.project_id}/{path}"
    team_id = seen.teams.get(team)
    descriptor = project.team_descriptor(team_id) if team_id else None
    for label, whole_folder, pipeline, bits in wanted:
        pipeline_id = seen.pipelines.get(pipeline) if pipeline else None
        denied = 0
        if descriptor and (whole_folder or pipeline_id is not None):
            target = token if whole_folder else f"{token}/{pipeline_id}"
            _, denied = project.pipeline_denies(descriptor, target)
        if denied & bits == bits:
            same("permissions", label)
            continue

        def deny(ids: dict[str, Any], p=pipeline, b=bits, what=label) -> None:
            target = token if p is None else f"{token}/{ids[f'pipeline:{p}']}"
            found, _ = project.pipeline_denies(project.team_descriptor(ids[f"team:{team}"]), target)
            project.deny_pipelines(found, target, b, f"pipeline permissions: {what}")

        add("modify" if denied else "create", "permissions", label, deny)


def pipelines_by_kind(spec: DevOpsSpec) -> dict[str, str]:
    """The project's pipeline names by kind (ci, ct, cd, infra, endpoints: the YAML's stem)."""
    return {path.rsplit("/", 1)[-1].removesuffix(".yml"): n for n, path in spec.pipelines}


def queue_denied(spec: DevOpsSpec) -> list[str]:
    """The kinds in QUEUE_DENIED this project has a pipeline of (endpoints only with
    cost.off_hours): a deny on a pipeline that does not exist would land on the folder."""
    kinds = pipelines_by_kind(spec)
    return [kind for kind in QUEUE_DENIED if kind in kinds]


def folder_label(spec: DevOpsSpec) -> str:
    team = spec.teams[-1][0]
    return f"{team}: pipelines in {spec.folder} (no edit, delete or permission changes)"


def queue_label(spec: DevOpsSpec, kind: str) -> str:
    return f"{spec.teams[-1][0]}: cannot queue {kind}"


def authorizations(
    spec: DevOpsSpec, seen: Observed, project: Project, add: Add, same: Same
) -> None:
    """Each protected resource open to exactly the pipelines that use it (not to all)."""
    for (kind, name), users in spec.authorizations:
        label = auth_label((kind, name), users)
        resource_id = _seen_id(seen, spec, kind, name)
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
            rid = find_resource_id(project, ids, k, n)
            allowed = {int(ids[f"pipeline:{p}"]) for p in u}
            _, now = project.pipeline_permissions(k, rid)
            project.authorize(k, rid, allowed, set(now) - allowed)

        add("modify" if current else "create", "pipelinepermissions", label, authorize, drift)


def find_resource_id(project: Project, ids: dict[str, Any], kind: str, name: str) -> str:
    """The id of a resource read or made so far; an agent queue is looked up once more (the
    Managed DevOps Pool that brings it may have been deployed since the plan was made)."""
    key = f"{kind}:{name}"
    if kind == "repository":  # "{projectId}.{repositoryId}" (facts/azure-devops.md)
        return f"{ids['project']}.{ids[key]}"
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


def _seen_id(seen: Observed, spec: DevOpsSpec, kind: str, name: str) -> str | None:
    if kind == "repository":
        repositories = {**seen.repositories, spec.repository: seen.repository_id}
        found_repository = repositories.get(name)
        return f"{seen.project_id}.{found_repository}" if found_repository else None
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
