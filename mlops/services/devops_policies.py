"""Branch policies on the default branches the platform keeps (part of `mlops plan` and
`mlops provision`, mlops/services/devops.py): the platform repository's and each team's
model repositories', found by repository, branch, type and the platform's marker; the
project's other policies (other repositories', project-wide) are not touched."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops.config.teams import team_pipeline
from mlops.plan.devops import (
    BUILD_POLICY,
    COMMENTS_POLICY,
    MIN_REVIEWERS_POLICY,
    REQUIRED_REVIEWERS_POLICY,
    DevOpsSpec,
    Observed,
)
from mlops.plan.devops_drift import find_policy, policy_drift, policy_settings
from mlops.plan.devops_teams import TeamObjects
from mlops.services.devops_access import Add, Same

if TYPE_CHECKING:
    from mlops.backends.azure.devops import Project

POLICY_NAMES = {
    MIN_REVIEWERS_POLICY: "minimum reviewers",
    BUILD_POLICY: "build validation (ci.yml)",
    COMMENTS_POLICY: "comments resolved",
    REQUIRED_REVIEWERS_POLICY: "platform engineers review .azuredevops/, infra/, mlops.yaml",
}


def policy_names(spec: DevOpsSpec) -> dict[str, str]:
    return {
        t: label
        for t, label in POLICY_NAMES.items()
        if t != REQUIRED_REVIEWERS_POLICY or spec.required_reviewers
    }


def branch_policies(
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
    for type_id, label in policy_names(spec).items():
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


def team_policies(
    spec: DevOpsSpec, team: TeamObjects, seen: Observed, project: Project, add: Add, same: Same
) -> None:
    """Each model repository's default branch protected as the platform's: minimum
    reviewers, comments resolved, build validation with its own ci, and the team's engineers
    as required reviewers of its pipelines, infrastructure and mlops.yaml."""
    for repository in team.repositories:
        ci = team_pipeline(repository, "ci")
        repository_id = seen.repositories.get(repository) or ""
        reviewers = [
            seen.identities.get(oid.lower(), f"(group {oid})") for _, oid in team.reviewers
        ]
        wanted = _team_policy_settings(spec, team, repository_id, seen.pipelines.get(ci), reviewers)
        for type_id, label in team_policy_names(team).items():
            name = f"{repository} {spec.branch}: {label}"
            found = find_policy(
                seen.team_policies.get(repository, []), type_id, repository_id, spec.branch
            )
            drift = policy_drift(wanted[type_id], found) if found and type_id in wanted else []
            if found is not None and type_id in wanted and not drift:
                same("policies", name)
                continue

            def put_policy(
                ids: dict[str, Any], t=type_id, existing=found, r=repository, c=ci, what=name
            ) -> None:
                resolved = [project.identity_id(oid) for _, oid in team.reviewers]
                settings = _team_policy_settings(
                    spec, team, ids[f"repository:{r}"], ids.get(f"pipeline:{c}"), resolved
                )
                project.put_policy(t, settings[t], existing["id"] if existing else None, what)

            add("modify" if found else "create", "policies", name, put_policy, drift)


def team_policy_names(team: TeamObjects) -> dict[str, str]:
    return {
        t: label.replace("platform engineers", f"{team.team} engineers")
        for t, label in POLICY_NAMES.items()
        if t != REQUIRED_REVIEWERS_POLICY or team.reviewers
    }


def _team_policy_settings(
    spec: DevOpsSpec,
    team: TeamObjects,
    repository_id: str,
    ci_pipeline_id: int | None,
    reviewer_ids: list[str],
) -> dict[str, dict[str, Any]]:
    settings = policy_settings(spec, repository_id, ci_pipeline_id, reviewer_ids)
    settings[REQUIRED_REVIEWERS_POLICY]["message"] = team.reviewer_message
    return settings
