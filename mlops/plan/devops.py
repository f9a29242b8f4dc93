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

Coexistence: checks and policies are told apart by resource, repository, branch, type and the
platform's marker; what another team made (a business-hours check, another repository's
policy) is never changed. Drift is compared on what matters: disabled state, approvers'
identities, instructions, timeout, a connection's client id, tenant and subscription.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops.config.root import Config
from mlops.plan.changes import PropertyChange
from mlops.render import pipelines
from mlops.render.pipelines import (
    PLATFORM,
    PROMOTION,
    connection,
    deployment_environments,
    pipeline_name,
    promotion_connection,
    variable_group,
)

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
#: the pipelines data scientists cannot queue (they deploy and provision)
QUEUE_DENIED = ("cd", "infra")
#: the pipelines that run from the default branch only: cd's stages require it, infra's
#: connection carries branch control; ci runs every branch and pull request, ct may be
#: queued on any branch to train in the first environment
DEFAULT_BRANCH_ONLY = ("cd", "infra")


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
    # a pool inside an environment's network is power too: only default-branch runs reach it
    users = queue_users(config)
    for queue, kinds in users.items():
        if set(kinds) <= set(DEFAULT_BRANCH_ONLY):
            checks.append(BranchControl(("queue", queue), branch))
    tenant = str(config.azure.tenant_id) if config.azure.tenant_id else None
    shared_subscription = str(config.azure.subscription_id or "") or None
    connections = []
    for index, env in enumerate(envs):
        identity, where = _identity(config, env, index)
        spec = config.environments.azure[env]
        connections.append(
            Connection(
                connection(config, env),
                tenant,
                str(identity.client_id) if identity else None,
                str(spec.subscription_id or config.azure.subscription_id or "") or None,
                where,
            )
        )
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
        names = config.environment_names(env)
        spec = config.environments.azure[env]
        values = {
            "MLOPS_ENV": env,
            "AZURE_SUBSCRIPTION_ID": str(
                spec.subscription_id or config.azure.subscription_id or ""
            ),
            "AZURE_RESOURCE_GROUP": names.resource_group,
            "AZUREML_WORKSPACE": names.workspace,
        }
        variable_groups.append((variable_group(config, env), tuple(sorted(values.items()))))
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
            for kind in ("ci", "ct", "cd", "infra")
        ),
        environments=tuple(deployment_environments(config)),
        queues=tuple(users),
        checks=tuple(checks),
        min_reviewers=devops.min_reviewers,
        required_reviewers=tuple((g.name, str(g.object_id)) for g in groups["platform_engineers"]),
        variable_groups=tuple(variable_groups),
        connections=tuple(connections),
        authorizations=_authorizations(config),
        unresolved=tuple(unresolved),
    )


def _authorizations(config: Config) -> tuple[tuple[tuple[str, str], tuple[str, ...]], ...]:
    """Which pipeline uses which protected resource, as the rendered YAML does: ct trains in
    the first environment and promotes; cd deploys to the later ones; infra provisions."""
    envs = list(config.environments.azure)
    ct, cd, infra = (pipeline_name(config, k) for k in ("ct", "cd", "infra"))
    out: list[tuple[tuple[str, str], tuple[str, ...]]] = []
    for index, env in enumerate(envs):
        user = ct if index == 0 else cd
        out.append((("endpoint", connection(config, env)), (user,)))
        out.append((("variablegroup", variable_group(config, env)), (user,)))
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
    if not config.environments.azure:
        return {}
    users: dict[str, list[str]] = {}
    for kind, render in documents.items():
        for name in sorted(_pool_names(render(config))):
            users.setdefault(name, []).append(kind)
    return {name: tuple(kinds) for name, kinds in sorted(users.items())}


def _pool_names(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {str(node["pool"]["name"])} if isinstance(node.get("pool"), dict) else set()
        for value in node.values():
            found |= _pool_names(value)
        return found
    if isinstance(node, list):
        return set().union(*(_pool_names(v) for v in node)) if node else set()
    return set()


# --- checks ------------------------------------------------------------------------------------
def approval_settings(approval: Approval, identity_ids: list[str]) -> dict[str, Any]:
    return {
        "approvers": [{"id": i} for i in identity_ids],
        "minRequiredApprovers": approval.min_approvers,
        "requesterCannotBeApprover": True,
        "instructions": approval.instructions,
        "executionOrder": "anyOrder",
        "blockedApprovers": [],
    }


def branch_settings(branch: str) -> dict[str, Any]:
    return {
        "definitionRef": {
            "id": BRANCH_CONTROL_TASK,
            "name": "evaluatebranchProtection",
            "version": "0.0.1",
        },
        "displayName": BRANCH_CONTROL_NAME,
        "inputs": {
            "allowedBranches": f"refs/heads/{branch}",
            "ensureProtectionOfBranch": "true",
            "allowUnknownStatusBranch": "false",
        },
    }


BRANCH_TIMEOUT = 1440
LOCK_TIMEOUT = 43200  # the Terraform provider's default: a rollout may wait on approvals


def check_type(spec: CheckSpec) -> str:
    if isinstance(spec, Approval):
        return APPROVAL_CHECK
    return TASK_CHECK if isinstance(spec, BranchControl) else EXCLUSIVE_LOCK_CHECK


def is_ours(spec: CheckSpec, check: Check) -> bool:
    """Whether `check` is the one mlops keeps for `spec`: same type and the platform's marker
    (an exclusive lock carries no text: any lock on the resource is the lock)."""
    if check.type_id.lower() != check_type(spec):
        return False
    if isinstance(spec, Approval):
        return MARKER in str(check.settings.get("instructions") or "")
    if isinstance(spec, BranchControl):
        definition = (check.settings.get("definitionRef") or {}).get("id", "")
        return (
            str(definition).lower() == BRANCH_CONTROL_TASK
            and check.settings.get("displayName") == BRANCH_CONTROL_NAME
        )
    return True


def check_drift(
    spec: CheckSpec, check: Check, identity_ids: dict[str, str]
) -> list[PropertyChange]:
    """What differs on what matters; approvers compared by identity, not by count."""
    out: list[PropertyChange] = []

    def differs(path: str, before: Any, after: Any) -> None:
        if before != after:
            out.append(PropertyChange(path, "modify", before, after))

    differs("isDisabled", check.disabled, False)
    if isinstance(spec, Lock):
        return out
    timeout = spec.timeout_minutes if isinstance(spec, Approval) else BRANCH_TIMEOUT
    differs("timeout", check.timeout, timeout)
    settings = check.settings
    if isinstance(spec, Approval):
        wanted = sorted(
            identity_ids.get(oid.lower(), f"(group {oid})") for _, oid in spec.approvers
        )
        seen = sorted(str(a.get("id", "")).lower() for a in settings.get("approvers") or [])
        differs("settings.approvers", seen, [w.lower() for w in wanted])
        differs("settings.instructions", settings.get("instructions"), spec.instructions)
        differs(
            "settings.minRequiredApprovers",
            int(settings.get("minRequiredApprovers") or 0),
            spec.min_approvers,
        )
        differs(
            "settings.requesterCannotBeApprover",
            bool(settings.get("requesterCannotBeApprover")),
            True,
        )
    else:
        inputs = {k: str(v).lower() for k, v in (settings.get("inputs") or {}).items()}
        for key, value in branch_settings(spec.branch)["inputs"].items():
            differs(f"settings.inputs.{key}", inputs.get(key), value.lower())
    return out


# --- branch policies ---------------------------------------------------------------------------
def policy_scope(repository_id: str, branch: str) -> list[dict[str, Any]]:
    return [
        {"repositoryId": repository_id, "refName": f"refs/heads/{branch}", "matchKind": "exact"}
    ]


def policy_settings(
    spec: DevOpsSpec, repository_id: str, ci_pipeline_id: int | None, reviewer_ids: list[str]
) -> dict[str, dict[str, Any]]:
    scope = policy_scope(repository_id, spec.branch)
    out: dict[str, dict[str, Any]] = {
        MIN_REVIEWERS_POLICY: {
            "minimumApproverCount": spec.min_reviewers,
            "creatorVoteCounts": False,
            "resetOnSourcePush": True,
            "scope": scope,
        },
        COMMENTS_POLICY: {"scope": scope},
        REQUIRED_REVIEWERS_POLICY: {
            "requiredReviewerIds": sorted(reviewer_ids),
            "filenamePatterns": list(PROTECTED_PATHS),
            "minimumApproverCount": 1,
            "creatorVoteCounts": False,
            "message": f"Platform engineers review pipelines, infrastructure and mlops.yaml."
            f" {MARKER}.",
            "scope": scope,
        },
    }
    if ci_pipeline_id is not None:
        out[BUILD_POLICY] = {
            "buildDefinitionId": ci_pipeline_id,
            "validDuration": 720,
            "queueOnSourceUpdateOnly": True,
            "manualQueueOnly": False,
            "displayName": "CI",
            "scope": scope,
        }
    return out


def find_policy(
    policies: list[dict[str, Any]], type_id: str, repository_id: str, branch: str
) -> dict[str, Any] | None:
    """This repository's policy of a type on exactly this branch (a project-wide one, or
    another repository's, is someone else's); required reviewers also by the marker, since a
    branch holds several."""
    ref = f"refs/heads/{branch}"
    for policy in policies:
        if str(policy["type"]).lower() != type_id:
            continue
        scopes = policy["settings"].get("scope") or []
        exact = [
            s
            for s in scopes
            if str(s.get("repositoryId") or "").lower() == repository_id.lower()
            and s.get("refName") == ref
            and str(s.get("matchKind", "")).lower() == "exact"
        ]
        if len(exact) != len(scopes) or not exact:
            continue
        if type_id == REQUIRED_REVIEWERS_POLICY and MARKER not in str(
            policy["settings"].get("message") or ""
        ):
            continue
        return policy
    return None


def policy_drift(wanted: dict[str, Any], seen: dict[str, Any]) -> list[PropertyChange]:
    """Azure DevOps answers with more keys and capitalised enum values: compare what we set."""
    out = []
    for flag in ("enabled", "blocking"):
        if not seen.get(flag, True):
            out.append(PropertyChange(f"is{flag.title()}", "modify", False, True))
    for key, value in wanted.items():
        before = seen["settings"].get(key)
        if _normal(value) != _normal(before):
            out.append(PropertyChange(f"settings.{key}", "modify", before, value))
    return out


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


# --- service connections -----------------------------------------------------------------------
def connection_drift(wanted: Connection, seen: dict[str, Any]) -> list[PropertyChange]:
    """The identity a connection signs in as: client id, tenant and subscription (not its
    name, which says nothing about who it is)."""
    parameters = {k.lower(): v for k, v in (seen.get("parameters") or {}).items()}
    data = seen.get("data") or {}
    pairs = (
        ("authorization.scheme", seen.get("scheme"), "WorkloadIdentityFederation"),
        (
            "authorization.parameters.serviceprincipalid",
            parameters.get("serviceprincipalid"),
            wanted.client_id,
        ),
        ("authorization.parameters.tenantid", parameters.get("tenantid"), wanted.tenant_id),
        ("data.subscriptionId", data.get("subscriptionId"), wanted.subscription_id),
    )
    return [
        PropertyChange(path, "modify", before, after)
        for path, before, after in pairs
        if str(before or "").lower() != str(after or "").lower()
    ]


def is_managed_connection(seen: dict[str, Any]) -> bool:
    return MARKER in str(seen.get("description") or "")
