"""The Azure DevOps objects the platform needs, derived from mlops.yaml, and how a project
differs from them. Pure: the backend reads a project into `Observed`, this module decides.

Per project: teams for the three personas; the four pipelines from `.azuredevops/`; an
environment per later Azure environment plus `platform`; a non-secret variable group per
Azure environment; a service connection (workload identity federation) per purpose: training
(the first environment), `promotion` (the only writer of the shared registry), each later
environment's deployment identity, and `platform`.

Checks sit where the power is: Approval, Branch control and Exclusive lock on every
deployment environment, and Approval plus Branch control on the test, prod and platform
connections (a job that names a connection outside a deployment job still meets them);
Branch control on the promotion connection (it runs unattended in CT); Branch control on the
agent queue of each Managed DevOps Pool that only default-branch pipelines (cd, infra) use:
each later environment's pool, inside that environment's network. Branch policies on the
default branch of this repository: minimum reviewers, build validation with ci.yml, comments
resolved, and the platform engineers as required reviewers of `.azuredevops/`, `infra/` and
`mlops.yaml`. Each pipeline is authorized for exactly the connections, variable groups,
environments and agent queues it uses (the queues as the rendered YAML names its pools).

Per team of the platform (`teams:` in the platform repository): mlops/plan/devops_teams.py
derives its objects; they join the project's in `DevOpsSpec` (`team_objects`, and its
environments, connections, checks and authorizations in the project's own fields).

How each kept object differs from what is wanted (checks, branch policies, connections):
mlops/plan/devops_drift.py.

Coexistence: checks and policies are told apart by resource, repository, branch, type and the
platform's marker; what another team made (a business-hours check, another repository's
policy) is never changed. Drift is compared on what matters: disabled state, approvers'
identities, instructions, timeout, a connection's client id, tenant and subscription.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops.config.root import Config
from mlops.config.teams import team_environment
from mlops.render import pipelines
from mlops.render.pipelines import (
    PLATFORM,
    PROMOTION,
    connection,
    deployment_environments,
    group_values,
    off_hours_connection,
    pipeline_name,
    promotion_connection,
    variable_group,
)

if TYPE_CHECKING:
    from mlops.plan.devops_teams import TeamObjects

DEVOPS = "devops"
#: what mlops writes into the objects it owns (instructions, descriptions, messages)
MARKER = "Managed by mlops"
BRANCH_CONTROL_NAME = "Branch control (managed by mlops)"
#: Azure DevOps' fixed ids: check types, the branch-control task, branch-policy types
APPROVAL_CHECK = "8c6f20a7-a545-4486-9777-f762fafe0d4d"
TASK_CHECK = "fe1de3ee-a436-41b4-bb20-f6eb4cb879a7"
EXCLUSIVE_LOCK_CHECK = "2ef31ad6-baa0-403a-8b45-2cbc9b4e5563"  # Terraform provider only
BRANCH_CONTROL_TASK = "86b05a0c-73e6-4f7d-b3cf-e38f3b39a75b"  # evaluatebranchProtection
MIN_REVIEWERS_POLICY = "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd"
BUILD_POLICY = "0609b952-1397-4640-95ec-e00a01b2c241"
COMMENTS_POLICY = "c6a1889d-b943-4856-b76f-9e46bb6b0df2"
REQUIRED_REVIEWERS_POLICY = "fd2167ab-b0be-447a-8ec8-39368250530e"
#: what only platform engineers may approve: the pipelines, the infrastructure, the config
PROTECTED_PATHS = ("/.azuredevops/*", "/infra/*", "/mlops.yaml")
#: the pipelines data scientists cannot queue (they deploy, provision, or put non-production
#: endpoints to sleep); only those the project has are denied
QUEUE_DENIED = ("cd", "infra", "endpoints")
#: the pipelines that run from the default branch only: cd's stages require it, infra's
#: connection carries branch control; ci runs every branch and pull request, ct may be
#: queued on any branch to train in the first environment
DEFAULT_BRANCH_ONLY = ("cd", "infra", "endpoints")  # endpoints: cost.off_hours' schedules


@dataclass
class Check:
    """One check configuration on a resource, as read."""

    id: int
    type_id: str
    settings: dict[str, Any]
    timeout: int
    disabled: bool = False


@dataclass
class Observed:
    """What the project holds, as plain values."""

    project_id: str
    repository_id: str | None
    teams: dict[str, str] = field(default_factory=dict)  # name -> id
    pipelines: dict[str, int] = field(default_factory=dict)  # name -> id
    environments: dict[str, int] = field(default_factory=dict)  # name -> id
    queues: dict[str, int] = field(default_factory=dict)  # agent queue name -> id
    #: (resource type, resource name) -> every check on it, whoever made it
    checks: dict[tuple[str, str], list[Check]] = field(default_factory=dict)
    #: policies that apply to the repository's default branch (others' included)
    policies: list[dict[str, Any]] = field(default_factory=list)
    variable_groups: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (resource type, resource id) -> (open to all pipelines, authorized pipeline ids)
    permissions: dict[tuple[str, str], tuple[bool, frozenset[int]]] = field(default_factory=dict)
    #: Entra object id (lower case) -> Azure DevOps identity id, for groups the organisation knows
    identities: dict[str, str] = field(default_factory=dict)
    #: the platform teams' model repositories: name -> id (None: not in the project yet)
    repositories: dict[str, str | None] = field(default_factory=dict)
    #: the policies that apply to each of those repositories' default branch
    team_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Approval:
    resource: tuple[str, str]  # ("environment", "prod") or ("endpoint", connection name)
    approvers: tuple[tuple[str, str], ...]  # (group name, Entra object id)
    min_approvers: int
    timeout_minutes: int

    @property
    def label(self) -> str:
        return f"{_resource_label(self.resource)}: approval"

    @property
    def instructions(self) -> str:
        names = ", ".join(name for name, _ in self.approvers)
        return f"Approve only what you have reviewed: {self.min_approvers} of {names}. {MARKER}."


@dataclass(frozen=True)
class BranchControl:
    resource: tuple[str, str]
    branch: str

    @property
    def label(self) -> str:
        return f"{_resource_label(self.resource)}: branch control"


@dataclass(frozen=True)
class Lock:
    resource: tuple[str, str]

    @property
    def label(self) -> str:
        return f"{_resource_label(self.resource)}: exclusive lock"


CheckSpec = Approval | BranchControl | Lock


def _resource_label(resource: tuple[str, str]) -> str:
    kind, name = resource
    return name if kind == "environment" else f"{name} ({kind})"


@dataclass(frozen=True)
class Connection:
    name: str
    tenant_id: str | None
    client_id: str | None
    subscription_id: str | None
    field: tuple[str, ...]  # where mlops.yaml declares its identity


@dataclass(frozen=True)
class DevOpsSpec:
    project: str
    repository: str
    branch: str
    folder: str
    teams: tuple[tuple[str, str], ...]
    pipelines: tuple[tuple[str, str], ...]  # (name, YAML path)
    environments: tuple[str, ...]
    #: the agent queues (one per Managed DevOps Pool) the pipelines run on
    queues: tuple[str, ...]
    checks: tuple[CheckSpec, ...]
    min_reviewers: int
    required_reviewers: tuple[tuple[str, str], ...]  # (group name, Entra object id)
    variable_groups: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    connections: tuple[Connection, ...]
    #: (resource type, resource name) -> the pipelines (names) that may use it
    authorizations: tuple[tuple[tuple[str, str], tuple[str, ...]], ...]
    unresolved: tuple[tuple[tuple[str | int, ...], str], ...] = ()  # (config path, problem)
    #: the platform's teams: their Azure DevOps teams, repositories and pipelines (their
    #: environments, connections, checks and authorizations are in the fields above)
    team_objects: tuple[TeamObjects, ...] = ()

    @property
    def approvals(self) -> tuple[Approval, ...]:
        return tuple(c for c in self.checks if isinstance(c, Approval))


PERSONA_TEAMS = {
    "platform_owners": ("Platform owners", "Govern the platform: infrastructure, roles, gates."),
    "platform_engineers": ("Platform engineers", "Run the environments; approve releases."),
    "data_scientists": ("Data scientists", "Explore, write model code, push feature branches."),
}


def _identity(config: Config, env: str, index: int) -> tuple[Any, tuple[str, ...]]:
    """The identity behind an environment's connection: training (first environment) or that
    environment's deployment identity, else `identities.cicd` (as the RBAC model falls back)."""
    ids = config.identities
    if index == 0 and ids.training is not None:
        return ids.training, ("identities", "training")
    if index > 0 and env in ids.deployment:
        return ids.deployment[env], ("identities", "deployment", env)
    if env in ids.cicd:
        return ids.cicd[env], ("identities", "cicd", env)
    purpose = ("identities", "training") if index == 0 else ("identities", "deployment", env)
    return None, purpose


def devops_spec(config: Config) -> DevOpsSpec:
    devops = config.devops
    project = devops.project or config.project.name
    envs = list(config.environments.azure)
    later = envs[1:]
    groups = config.identities.groups()
    by_name = {g.name: g for gs in groups.values() for g in gs}
    unresolved: list[tuple[tuple[str | int, ...], str]] = []
    approvals: dict[str, Approval] = {}
    for env in later:
        spec = config.environments.azure[env].approval
        if spec is None:
            continue
        approvers: list[tuple[str, str]] = []
        for i, who in enumerate(spec.approvers):
            members = groups.get(who) or ([by_name[who]] if who in by_name else [])
            if not members:
                unresolved.append(
                    (
                        ("environments", env, "approval", "approvers", i),
                        f"'{who}' names no Entra group: declare it under identities",
                    )
                )
            approvers += [(g.name, str(g.object_id)) for g in members]
        approvals[env] = Approval(
            ("environment", env), tuple(approvers), spec.min_approvers, spec.timeout_minutes
        )
    owners = [(g.name, str(g.object_id)) for g in groups["platform_owners"]]
    if not owners:
        unresolved.append(
            (("identities", "platform_owners"), "approves the platform environment: declare it")
        )
    approvals[PLATFORM] = Approval(("environment", PLATFORM), tuple(owners), 1, 1440)
    branch = devops.default_branch
    checks: list[CheckSpec] = []
    for env in deployment_environments(config):
        resource = ("environment", env)
        if env in approvals:
            checks.append(approvals[env])
        checks += [BranchControl(resource, branch), Lock(resource)]
    # the same approvers and branch on the connections that carry the power
    for env in deployment_environments(config):
        resource = ("endpoint", connection(config, env))
        if env in approvals:
            a = approvals[env]
            checks.append(Approval(resource, a.approvers, a.min_approvers, a.timeout_minutes))
        checks.append(BranchControl(resource, branch))
    if promotion_connection(config):
        checks.append(BranchControl(("endpoint", connection(config, PROMOTION)), branch))
    # the off-hours connections: branch control only, an approval would hold the nightly run
    for env in off_hours_envs(config):
        checks.append(BranchControl(("endpoint", off_hours_connection(config, env)), branch))
    # a pool inside an environment's network is power too: only default-branch runs reach it
    users = queue_users(config)
    for queue, kinds in users.items():
        if set(kinds) <= set(DEFAULT_BRANCH_ONLY):
            checks.append(BranchControl(("queue", queue), branch))
    tenant = str(config.azure.tenant_id) if config.azure.tenant_id else None
    shared_subscription = str(config.azure.subscription_id or "") or None

    def signed_in_as_env(name: str, env: str) -> Connection:
        """A connection signing in as environment `env`'s identity, into its subscription."""
        identity, where = _identity(config, env, envs.index(env))
        spec = config.environments.azure[env]
        return Connection(
            name,
            tenant,
            str(identity.client_id) if identity else None,
            str(spec.subscription_id or config.azure.subscription_id or "") or None,
            where,
        )

    connections = [signed_in_as_env(connection(config, env), env) for env in envs]
    # the off-hours connections: the environment's identity, a connection of its own
    connections += [
        signed_in_as_env(off_hours_connection(config, env), env) for env in off_hours_envs(config)
    ]
    promotion = config.identities.promotion
    if promotion_connection(config):
        connections.append(
            Connection(
                connection(config, PROMOTION),
                tenant,
                str(promotion.client_id) if promotion else None,
                shared_subscription,
                ("identities", "promotion"),
            )
        )
    platform = config.identities.platform
    connections.append(
        Connection(
            connection(config, PLATFORM),
            tenant,
            str(platform.client_id) if platform else None,
            shared_subscription,
            ("identities", "platform"),
        )
    )
    variable_groups = []
    for env in envs:
        values = group_values(config, env)
        variable_groups.append((variable_group(config, env), tuple(sorted(values.items()))))
    authorizations = _authorizations(config)
    team_objects: list[TeamObjects] = []
    if config.platform is None:  # the platform repository provisions its teams' objects
        # imported here: devops_teams builds on this module's check and connection types
        from mlops.plan.devops_teams import team_part, with_team_resources

        for name in config.teams:
            part = team_part(config, name, approvals, branch)
            team_objects.append(part.objects)
            checks += part.checks
            connections += part.connections
            authorizations += part.authorizations
        authorizations = with_team_resources(config, authorizations, team_objects)
    return DevOpsSpec(
        project=project,
        repository=devops.repository or config.project.name,
        branch=branch,
        folder=f"\\{config.project.name}",
        teams=tuple(
            (f"{config.project.name} {name.lower()}", text) for name, text in PERSONA_TEAMS.values()
        ),
        pipelines=tuple(
            (pipeline_name(config, kind), f"/.azuredevops/{kind}.yml")
            for kind in (
                "ci",
                "ct",
                "cd",
                "infra",
                *(("endpoints",) if off_hours_envs(config) else ()),
            )
        ),
        environments=(
            *deployment_environments(config),
            *(team_environment(t.team, env) for t in team_objects for env in later),
        ),
        queues=tuple(users),
        checks=tuple(checks),
        min_reviewers=devops.min_reviewers,
        required_reviewers=tuple((g.name, str(g.object_id)) for g in groups["platform_engineers"]),
        variable_groups=tuple(variable_groups),
        connections=tuple(connections),
        authorizations=authorizations,
        unresolved=tuple(unresolved),
        team_objects=tuple(team_objects),
    )


def _authorizations(config: Config) -> tuple[tuple[tuple[str, str], tuple[str, ...]], ...]:
    """Which pipeline uses which protected resource, as the rendered YAML does: ct trains in
    the first environment and promotes; cd deploys to the later ones; infra provisions."""
    envs = list(config.environments.azure)
    ct, cd, infra = (pipeline_name(config, k) for k in ("ct", "cd", "infra"))
    out: list[tuple[tuple[str, str], tuple[str, ...]]] = []
    sleeping = off_hours_envs(config)
    endpoints = pipeline_name(config, "endpoints")
    for index, env in enumerate(envs):
        user = ct if index == 0 else cd
        out.append((("endpoint", connection(config, env)), (user,)))
        readers = (user, endpoints) if env in sleeping else (user,)
        out.append((("variablegroup", variable_group(config, env)), readers))
        if env in sleeping:
            out.append((("endpoint", off_hours_connection(config, env)), (endpoints,)))
        if index > 0:
            out.append((("environment", env), (cd,)))
    if promotion_connection(config):
        out.append((("endpoint", connection(config, PROMOTION)), (ct,)))
    out.append((("endpoint", connection(config, PLATFORM)), (infra,)))
    out.append((("environment", PLATFORM), (infra,)))
    for queue, kinds in queue_users(config).items():
        out.append((("queue", queue), tuple(pipeline_name(config, k) for k in kinds)))
    return tuple(out)


def queue_users(config: Config) -> dict[str, tuple[str, ...]]:
    """Agent queue (pool) name -> the pipelines (kinds) whose rendered YAML runs on it, read
    from the documents themselves so the permissions follow the YAML exactly."""
    documents = {
        "ci": pipelines.ci,
        "ct": pipelines.ct,
        "cd": pipelines.cd,
        "infra": pipelines.infra,
    }
    if off_hours_envs(config):
        documents["endpoints"] = pipelines.endpoints
    if not config.environments.azure:
        return {}
    users: dict[str, list[str]] = {}
    for kind, render in documents.items():
        for name in sorted(_pool_names(render(config))):
            users.setdefault(name, []).append(kind)
    return {name: tuple(kinds) for name, kinds in sorted(users.items())}


def off_hours_envs(config: Config) -> list[str]:
    """The environments whose endpoints `cost.off_hours` puts to sleep (endpoints.yml)."""
    off = config.cost.off_hours
    return list(off.environments) if off is not None else []


def _pool_names(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {str(node["pool"]["name"])} if isinstance(node.get("pool"), dict) else set()
        for value in node.values():
            found |= _pool_names(value)
        return found
    if isinstance(node, list):
        return set().union(*(_pool_names(v) for v in node)) if node else set()
    return set()
