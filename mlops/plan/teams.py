"""Which team each planned change belongs to: what `mlops plan` groups by team.

A change is a team's when it is one of the team's resources (its workspace and what is
named after it: computes, private endpoints, their DNS zone groups; its storage account),
one of the team's role assignments (mlops.rbac.teams), the team's budget, or one of its
Azure DevOps objects (its team, environments, repositories, their pipelines, its service
connections: the names mlops.config.teams gives them). Everything else
is the platform's, shared by every team. Onboarding a team should show creates under that
team only: `test_teams_plan` holds the platform to that.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlops.config.root import Config
from mlops.plan.changes import ResourceChange, StackPlan

PLATFORM = "(platform)"
_BUDGETS = "microsoft.consumption/budgets"
_ASSIGNMENT_TYPES = ("microsoft.authorization/roleassignments",)


class Attribution:
    """Maps a change to its team (None: the platform's)."""

    def __init__(self, config: Config) -> None:
        from mlops.config.teams import team_environment
        from mlops.rbac.model import role_model
        from mlops.rbac.teams import names

        self._prefixes: list[tuple[str, str]] = []
        self._exact: dict[str, str] = {}
        self._infixes: list[tuple[str, str]] = []
        for team in config.teams:
            for env in config.environments.azure:
                own = names(config, env, team)
                workspace = own.workspace.lower()
                self._exact[workspace] = team
                self._exact[own.storage_account.lower()] = team
                self._prefixes += [
                    (workspace + "/", team),
                    (f"pe-{workspace.removeprefix('mlw-')}-", team),
                ]
            self._exact[f"mlops-{config.project.name}-team-{team}".lower()] = team
            # the team's Azure DevOps objects (mlops.config.teams names them)
            # its Azure DevOps teams ("TEAM ROLE") and their members ("TEAM ROLE: group")
            self._prefixes.append((f"{team} ", team))
            for env in config.environments.azure:
                self._exact[team_environment(team, env).lower()] = team
                for after in (":", " ("):  # its checks, its pipeline permissions
                    self._prefixes.append((team_environment(team, env).lower() + after, team))
            for repository in config.teams[team].repositories:
                self._exact[repository.lower()] = team
                for after in ("-", " ", ":"):  # its pipelines, its branch policies
                    self._prefixes.append((repository.lower() + after, team))
            self._infixes.append((f"-team-{team}-", team))  # its service connections
        self._labels = {
            a.label: a.grant.team for a in role_model(config).assignments if a.grant.team
        }

    def team_of(self, change: ResourceChange) -> str | None:
        if change.type.lower() in _ASSIGNMENT_TYPES and change.name in self._labels:
            return self._labels[change.name]
        name = change.name.lower()
        if name in self._exact:
            return self._exact[name]
        for prefix, team in self._prefixes:
            if name.startswith(prefix):
                return team
        return next((team for infix, team in self._infixes if infix in f"-{name}-"), None)


def by_team(config: Config, stacks: Iterable[StackPlan]) -> dict[str, list[dict[str, Any]]]:
    """Team (then the platform) to its changes, each with its stack: for the plan's `meta`,
    so the JSON and the table show the same grouping. Empty without teams."""
    if not config.teams:
        return {}
    attribution = Attribution(config)
    out: dict[str, list[dict[str, Any]]] = {team: [] for team in sorted(config.teams)}
    out[PLATFORM] = []
    for stack in stacks:
        for change in stack.changes:
            team = attribution.team_of(change) or PLATFORM
            out[team].append(
                {
                    "stack": stack.stack,
                    "action": change.action,
                    "type": change.type,
                    "name": change.name,
                }
            )
    return out
