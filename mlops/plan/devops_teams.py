"""The Azure DevOps objects of each team of the platform (`teams:` in the platform repository).

Per team: its Azure DevOps teams (its data scientists' and engineers' groups), its model
repositories with a ci, ct and cd pipeline each, an environment and a service connection (the
team's own identity) per Azure environment, gated like the platform's (approval by the team's
engineers with the environment's approvers and the platform engineers, branch control,
exclusive lock), and a `promotion` connection for its CT when there is an environment to
promote to (the platform's promotion identity, the registry's only writer; branch control).
All are usable only by the team's own pipelines: no team's pipeline can use another's
connection or environment. Its pipelines are authorized on the platform repository, which a
bound model repository's pipelines check out. `devops_spec` adds them to the project's
objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops.config.root import Config
from mlops.config.teams import (
    devops_team,
    team_connection,
    team_environment,
    team_pipeline,
)
from mlops.plan.devops import (
    MARKER,
    Approval,
    BranchControl,
    CheckSpec,
    Connection,
    Lock,
    queue_users,
)
from mlops.render.pipelines import PROMOTION, promotion_connection


@dataclass(frozen=True)
class TeamObjects:
    """What one team of the platform gets in the Azure DevOps project."""

    team: str
    #: (Azure DevOps team, description, its Entra groups as (name, object id)): the team's
    #: data scientists first, then its engineers
    devops_teams: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]
    repositories: tuple[str, ...]
    folder: str
    pipelines: tuple[tuple[str, str, str], ...]  # (name, YAML path, repository)
    #: who must review changes to a repository's pipelines and mlops.yaml: the team's engineers
    reviewers: tuple[tuple[str, str], ...] = ()

    @property
    def reviewer_message(self) -> str:
        return f"{self.team}'s engineers review pipelines, infrastructure and mlops.yaml. {MARKER}."


@dataclass(frozen=True)
class TeamPart:
    """One team's share of the project's objects, before `devops_spec` merges them."""

    objects: TeamObjects
    checks: list[CheckSpec]
    connections: list[Connection]
    authorizations: tuple[tuple[tuple[str, str], tuple[str, ...]], ...]


TEAM_ROLES = (
    "write the team's models; cannot queue cd or edit its pipelines.",
    "approve the team's releases with the platform engineers.",
)
#: the pipelines a model repository gets: its infrastructure is the platform's (infra.yml
#: runs in the platform repository only), so no model repository has a pipeline for it
TEAM_PIPELINES = ("ci", "ct", "cd")


def team_part(config: Config, name: str, approvals: dict[str, Approval], branch: str) -> TeamPart:
    """One team's objects: its own environment and service connection per Azure environment,
    each usable only by its own pipelines, gated like the platform's (approval by the team's
    engineers with the environment's approvers, branch control, exclusive lock)."""
    team = config.teams[name]
    envs = list(config.environments.azure)
    engineers = tuple((g.name, str(g.object_id)) for g in team.engineers)
    pipelines = tuple(
        (team_pipeline(repo, kind), f"/.azuredevops/{kind}.yml", repo)
        for repo in team.repositories
        for kind in TEAM_PIPELINES
    )
    of_kind = {
        kind: tuple(team_pipeline(repo, kind) for repo in team.repositories)
        for kind in TEAM_PIPELINES
    }
    checks: list[CheckSpec] = []
    connections: list[Connection] = []
    authorizations: list[tuple[tuple[str, str], tuple[str, ...]]] = []
    tenant = str(config.azure.tenant_id) if config.azure.tenant_id else None
    for index, env in enumerate(envs):
        conn = team_connection(config.azure.name_prefix, name, env)
        identity = team.identities.get(env)
        spec = config.environments.azure[env]
        connections.append(
            Connection(
                conn,
                tenant,
                str(identity.client_id) if identity else None,
                str(spec.subscription_id or config.azure.subscription_id or "") or None,
                ("teams", name, "identities", env),
            )
        )
        if index == 0:  # training: ct, from any branch, as the platform's first connection
            authorizations.append((("endpoint", conn), of_kind["ct"]))
            continue
        environment = team_environment(name, env)
        authorizations.append((("endpoint", conn), of_kind["cd"]))
        authorizations.append((("environment", environment), of_kind["cd"]))
        base = approvals.get(env)
        approvers = tuple(
            dict.fromkeys(
                engineers
                + (base.approvers if base else ())
                + tuple((g.name, str(g.object_id)) for g in config.identities.platform_engineers)
            )
        )
        minimum = base.min_approvers if base else 1
        timeout = base.timeout_minutes if base else 1440
        for resource in (("environment", environment), ("endpoint", conn)):
            checks.append(Approval(resource, approvers, minimum, timeout))
            checks.append(BranchControl(resource, branch))
        checks.append(Lock(("environment", environment)))
    if promotion_connection(config):
        # the team's CT promotes through its own connection, signed in as the platform's
        # promotion identity (the registry's only writer), from the default branch only
        conn = team_connection(config.azure.name_prefix, name, PROMOTION)
        promotion = config.identities.promotion
        connections.append(
            Connection(
                conn,
                tenant,
                str(promotion.client_id) if promotion else None,
                str(config.azure.subscription_id or "") or None,
                ("identities", "promotion"),
            )
        )
        checks.append(BranchControl(("endpoint", conn), branch))
        authorizations.append((("endpoint", conn), of_kind["ct"]))
    objects = TeamObjects(
        team=name,
        devops_teams=tuple(
            (
                devops_team(name, role),
                f"{name}'s {role}: {text} Managed by mlops.",
                tuple((g.name, str(g.object_id)) for g in groups),
            )
            for role, text, groups in (
                ("data scientists", TEAM_ROLES[0], team.data_scientists),
                ("engineers", TEAM_ROLES[1], team.engineers),
            )
        ),
        repositories=tuple(team.repositories),
        folder=f"\\{name}",
        pipelines=pipelines,
        reviewers=engineers,
    )
    return TeamPart(objects, checks, connections, tuple(authorizations))


def with_team_resources(
    config: Config,
    authorizations: tuple[tuple[tuple[str, str], tuple[str, ...]], ...],
    teams: list[TeamObjects],
) -> tuple[tuple[tuple[str, str], tuple[str, ...]], ...]:
    """The platform's shared resources opened to the teams' pipelines: the agent queues to
    those of the kinds that run on them (a model repository's ci, ct and cd are rendered from
    the same platform sections), and the platform repository to all of them, in one entry (a
    resource's authorization states all its pipelines: one per team would undo the others)."""
    out = _with_team_queues(config, authorizations, teams)
    users = tuple(name for t in teams for name, _, _ in t.pipelines)
    if users:
        # a bound repository's pipelines check out the platform repository (its mlops.yaml,
        # `resources.repositories`): authorized here, no run waits for someone to "Permit"
        # its first use (/azure/devops/pipelines/security/resources, "Protecting repository
        # resources"); the platform knows its own repository, not which binding names it
        platform = config.devops.repository or config.project.name
        out += ((("repository", platform), users),)
    return out


def _with_team_queues(
    config: Config,
    authorizations: tuple[tuple[tuple[str, str], tuple[str, ...]], ...],
    teams: list[TeamObjects],
) -> tuple[tuple[tuple[str, str], tuple[str, ...]], ...]:
    """The agent queues open to the teams' pipelines of the kinds that run on them."""
    users = queue_users(config)
    out = []
    for resource, names in authorizations:
        if resource[0] == "queue":
            kinds = users.get(resource[1], ())
            names = names + tuple(
                team_pipeline(repo, kind)
                for t in teams
                for repo in t.repositories
                for kind in TEAM_PIPELINES
                if kind in kinds
            )
        out.append((resource, names))
    return tuple(out)
