"""How one Azure DevOps object mlops keeps differs from what the platform wants: checks,
branch policies and service connections. Split from mlops/plan/devops.py (which decides what
the project holds) so the comparison rules read on their own; pure, like that module."""

from __future__ import annotations

from typing import Any

from mlops.plan.changes import PropertyChange
from mlops.plan.devops import (
    APPROVAL_CHECK,
    BRANCH_CONTROL_NAME,
    BRANCH_CONTROL_TASK,
    BUILD_POLICY,
    COMMENTS_POLICY,
    EXCLUSIVE_LOCK_CHECK,
    MARKER,
    MIN_REVIEWERS_POLICY,
    PROTECTED_PATHS,
    REQUIRED_REVIEWERS_POLICY,
    TASK_CHECK,
    Approval,
    BranchControl,
    Check,
    CheckSpec,
    Connection,
    DevOpsSpec,
    Lock,
)


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
