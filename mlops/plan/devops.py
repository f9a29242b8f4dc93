"""The Azure DevOps objects the platform needs, derived from mlops.yaml, and how a project
differs from them. Pure: the backend reads a project into `Observed`, this module decides.

Per project: teams for the three personas; the four pipelines from `.azuredevops/`; an
environment per later Azure environment plus `platform`, each with an Approval check
(approver groups, minimum approvers, requester cannot approve, timeout) and, for the last
environment and `platform`, a Branch-control check allowing only the default branch; branch
policies on the default branch (minimum reviewers without self-approval, build validation
with ci.yml, comments resolved); a non-secret variable group and a service connection
(workload identity federation) per Azure environment, and one for `platform`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops.config.root import Config
from mlops.render.pipelines import connection, pipeline_name, variable_group

PLATFORM = "platform"
DEVOPS = "devops"
#: Azure DevOps' fixed ids: check types, the branch-control task, branch-policy types
APPROVAL_CHECK = "8c6f20a7-a545-4486-9777-f762fafe0d4d"
TASK_CHECK = "fe1de3ee-a436-41b4-bb20-f6eb4cb879a7"
BRANCH_CONTROL_TASK = "86b05a0c-73e6-4f7d-b3cf-e38f3b39a75b"  # evaluatebranchProtection
MIN_REVIEWERS_POLICY = "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd"
BUILD_POLICY = "0609b952-1397-4640-95ec-e00a01b2c241"
COMMENTS_POLICY = "c6a1889d-b943-4856-b76f-9e46bb6b0df2"


@dataclass
class Observed:
    """What the project holds, as plain values."""

    project_id: str
    repository_id: str | None
    teams: dict[str, str] = field(default_factory=dict)  # name -> id
    pipelines: dict[str, int] = field(default_factory=dict)  # name -> id
    environments: dict[str, int] = field(default_factory=dict)  # name -> id
    checks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (env, kind)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # type id -> policy
    variable_groups: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Approval:
    env: str
    approvers: tuple[tuple[str, str], ...]  # (group name, Entra object id)
    min_approvers: int
    timeout_minutes: int

    @property
    def instructions(self) -> str:
        """Shown to approvers; it also records which groups mlops put on the check."""
        names = ", ".join(name for name, _ in self.approvers)
        return (
            f"Approve only what you have reviewed: {self.min_approvers} of {names}."
            f" Managed by mlops: {_marker(self)}"
        )


def _marker(approval: Approval) -> str:
    return ",".join(sorted(object_id for _, object_id in approval.approvers))


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
    approvals: tuple[Approval, ...]
    branch_control: tuple[str, ...]
    min_reviewers: int
    variable_groups: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    connections: tuple[Connection, ...]
    unresolved: tuple[tuple[tuple[str | int, ...], str], ...] = ()  # (config path, problem)


PERSONA_TEAMS = {
    "platform_owners": ("Platform owners", "Govern the platform: infrastructure, roles, gates."),
    "platform_engineers": ("Platform engineers", "Run the environments; approve releases."),
    "data_scientists": ("Data scientists", "Explore, write model code, push feature branches."),
}


def devops_spec(config: Config) -> DevOpsSpec:
    devops = config.devops
    project = devops.project or config.project.name
    envs = list(config.environments.azure)
    later = envs[1:]
    groups = config.identities.groups()
    by_name = {g.name: g for gs in groups.values() for g in gs}
    approvals, unresolved = [], []
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
        approvals.append(Approval(env, tuple(approvers), spec.min_approvers, spec.timeout_minutes))
    owners = [(g.name, str(g.object_id)) for g in groups["platform_owners"]]
    if not owners:
        unresolved.append(
            (("identities", "platform_owners"), "approves the platform environment: declare it")
        )
    approvals.append(Approval(PLATFORM, tuple(owners), 1, 1440))
    tenant = str(config.azure.tenant_id) if config.azure.tenant_id else None
    connections = []
    for env in envs:
        identity = config.identities.cicd.get(env)
        spec = config.environments.azure[env]
        connections.append(
            Connection(
                connection(config, env),
                tenant,
                str(identity.client_id) if identity else None,
                str(spec.subscription_id or config.azure.subscription_id or "") or None,
                ("identities", "cicd", env),
            )
        )
    platform = config.identities.platform
    connections.append(
        Connection(
            connection(config, PLATFORM),
            tenant,
            str(platform.client_id) if platform else None,
            str(config.azure.subscription_id) if config.azure.subscription_id else None,
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
        branch=devops.default_branch,
        folder=f"\\{config.project.name}",
        teams=tuple(
            (f"{config.project.name} {name.lower()}", text) for name, text in PERSONA_TEAMS.values()
        ),
        pipelines=tuple(
            (pipeline_name(config, kind), f"/.azuredevops/{kind}.yml")
            for kind in ("ci", "ct", "cd", "infra")
        ),
        environments=(*later, PLATFORM),
        approvals=tuple(approvals),
        branch_control=(*later[-1:], PLATFORM),
        min_reviewers=devops.min_reviewers,
        variable_groups=tuple(variable_groups),
        connections=tuple(connections),
        unresolved=tuple(unresolved),
    )


def approval_settings(approval: Approval, identity_ids: list[str]) -> dict[str, Any]:
    return {
        "approvers": [{"id": i} for i in identity_ids],
        "minRequiredApprovers": approval.min_approvers,
        "requesterCannotBeApprover": True,
        "instructions": approval.instructions,
        "executionOrder": "anyOrder",
        "blockedApprovers": [],
    }


def approval_matches(approval: Approval, seen: dict[str, Any] | None) -> bool:
    """Whether the check mlops made is as mlops.yaml says (compared without resolving the
    groups' identities, which would need a write to materialise them)."""
    if seen is None:
        return False
    settings = seen["settings"]
    return (
        settings.get("instructions") == approval.instructions
        and int(settings.get("minRequiredApprovers") or 0) == approval.min_approvers
        and bool(settings.get("requesterCannotBeApprover"))
        and len(settings.get("approvers") or []) == len(approval.approvers)
        and int(seen.get("timeout") or 0) == approval.timeout_minutes
    )


def branch_settings(branch: str) -> dict[str, Any]:
    return {
        "definitionRef": {
            "id": BRANCH_CONTROL_TASK,
            "name": "evaluatebranchProtection",
            "version": "0.0.1",
        },
        "displayName": "Branch control",
        "inputs": {
            "allowedBranches": f"refs/heads/{branch}",
            "ensureProtectionOfBranch": "true",
            "allowUnknownStatusBranch": "false",
        },
    }


def branch_matches(branch: str, seen: dict[str, Any] | None) -> bool:
    if seen is None:
        return False
    inputs = (seen["settings"] or {}).get("inputs") or {}
    wanted = branch_settings(branch)["inputs"]
    return all(str(inputs.get(k, "")).lower() == v for k, v in wanted.items())


def policy_settings(
    spec: DevOpsSpec, repository_id: str, ci_pipeline_id: int | None
) -> dict[str, dict[str, Any]]:
    scope = [
        {
            "repositoryId": repository_id,
            "refName": f"refs/heads/{spec.branch}",
            "matchKind": "exact",
        }
    ]
    out: dict[str, dict[str, Any]] = {
        MIN_REVIEWERS_POLICY: {
            "minimumApproverCount": spec.min_reviewers,
            "creatorVoteCounts": False,
            "resetOnSourcePush": True,
            "scope": scope,
        },
        COMMENTS_POLICY: {"scope": scope},
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


def settings_match(wanted: dict[str, Any], seen: dict[str, Any] | None) -> bool:
    """Azure DevOps answers with more keys and capitalised enum values: compare what we set."""
    if seen is None or not seen.get("enabled", True) or not seen.get("blocking", True):
        return False
    return _normal(wanted) == _normal({k: seen["settings"].get(k) for k in wanted})


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value
