"""Each team of the platform in its Azure DevOps project (part of `mlops plan` and
`mlops provision`, mlops/services/devops.py): its model repositories, its two Azure DevOps
teams with their Entra groups, its pipelines, and its data scientists' denies. Its
environments, connections, checks, policies and pipeline permissions are applied with the
platform's own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops.plan.devops import DevOpsSpec, Observed
from mlops.plan.devops_teams import TeamObjects
from mlops.services.devops_access import DENIED_BITS, QUEUE_BUILDS, Add, Same, deny_pipelines

if TYPE_CHECKING:
    from mlops.backends.azure.devops import Project


def platform_teams(
    spec: DevOpsSpec, seen: Observed, project: Project, add: Add, same: Same, ids: dict[str, Any]
) -> None:
    """Each team of the platform: its model repositories (made when missing), its two Azure
    DevOps teams (data scientists, engineers) with their groups as members, a ci, ct and cd
    pipeline per repository in the team's folder, and its data scientists denied editing
    them and queueing cd. Its environments, connections, checks and pipeline permissions are
    the spec's, applied with the platform's own."""
    for team in spec.team_objects:
        for name in team.repositories:
            found = seen.repositories.get(name)
            if found is not None:
                ids[f"repository:{name}"] = found
                same("repositories", name)
                continue

            def create_repository(ids: dict[str, Any], n: str = name) -> None:
                ids[f"repository:{n}"] = project.create_repository(n)

            add("create", "repositories", name, create_repository)
        for label, description, members in team.devops_teams:
            _devops_team(label, description, members, seen, project, add, same, ids)
        for name, path, repository in team.pipelines:
            if name in seen.pipelines:
                same("pipelines", name)
                continue

            def create_pipeline(
                ids: dict[str, Any], n: str = name, p: str = path, r: str = repository, t=team
            ) -> None:
                ids[f"pipeline:{n}"] = project.create_pipeline(
                    t.folder, n, p, ids[f"repository:{r}"]
                )

            add("create", "pipelines", name, create_pipeline)
        _team_pipeline_permissions(team, seen, project, add, same)


def _devops_team(
    label: str,
    description: str,
    members: tuple[tuple[str, str], ...],
    seen: Observed,
    project: Project,
    add: Add,
    same: Same,
    ids: dict[str, Any],
) -> None:
    """One Azure DevOps team of a platform team, with its Entra groups as members."""
    team_id = seen.teams.get(label)
    if team_id is not None:
        same("teams", label)
    else:

        def create_team(ids: dict[str, Any], n: str = label, d: str = description) -> None:
            ids[f"team:{n}"] = project.create_team(ids["project"], n, d)

        add("create", "teams", label, create_team)
    container = project.team_descriptor(team_id) if team_id else None
    for group, object_id in members:
        oid = object_id.lower()
        member = ids["groups"].get(oid)
        if container and member and project.is_member(member, container):
            same("teammembers", f"{label}: {group}")
            continue

        def add_member(ids: dict[str, Any], t: str = label, o: str = oid, g: str = group) -> None:
            member = ids["groups"].get(o) or project.materialise(o)
            ids["groups"][o] = member
            container = project.team_descriptor(ids[f"team:{t}"])
            project.add_member(member, container, f"{g} to team {t}")

        add("create", "teammembers", f"{label}: {group}", add_member)


def team_denies(team: TeamObjects) -> list[tuple[str, str | None, int]]:
    """(label, pipeline or None for the folder, bits) the team's data scientists are denied:
    editing the team's pipelines (they change them by pull request) and queueing its cd."""
    scientists = team.devops_teams[0][0]
    out: list[tuple[str, str | None, int]] = [
        (
            f"{scientists}: pipelines in {team.folder} (no edit, delete or permission changes)",
            None,
            DENIED_BITS,
        )
    ]
    out += [
        (f"{scientists}: cannot queue {name}", name, QUEUE_BUILDS)
        for name, path, _ in team.pipelines
        if path.endswith("/cd.yml")
    ]
    return out


def _team_pipeline_permissions(
    team: TeamObjects, seen: Observed, project: Project, add: Add, same: Same
) -> None:
    """The same denies as the platform's own data scientists get, on the team's folder."""
    wanted = [
        (label, pipeline is None, pipeline, bits) for label, pipeline, bits in team_denies(team)
    ]
    deny_pipelines(team.devops_teams[0][0], team.folder, wanted, seen, project, add, same)
