"""Each team's own resources in an environment's template: workspace, storage, endpoints.

One workspace per team and environment (not a hub with projects, see the README's
multi-team section), sharing the environment's network, Key Vault, container registry,
Application Insights, Log Analytics, model registry and AKS cluster:

- the workspace is the unit Azure ML's RBAC and its jobs, models and endpoints live in, so a
  team's roles on its workspace reach nothing of another team's;
- the storage account is the team's own: data scientists hold Storage Blob Data Contributor
  on it to read and write training data, and a data-plane role on a shared account would
  reach every team's containers (Azure RBAC scopes a storage role to the account or one
  container, /azure/storage/blobs/assign-azure-role-data-access, and Azure ML's datastores
  name the whole account);
- Key Vault, container registry and Application Insights are shared: people hold no data
  role on them (the workspaces' identities use them), and they cost per vault, registry and
  ingestion rather than per team;
- each team's resources carry the tag `mlops-team: <team>`, which the team's budget filters
  on (services/budgets.py, `team_budgets`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from mlops.config.root import Config
from mlops.errors import ConfigError, Issue
from mlops.naming import TeamNames
from mlops.rbac.teams import names
from mlops.render.arm import Resource, Template
from mlops.render.infra._common import registry_id
from mlops.render.infra.network import ZONE_WORKSPACE, Endpoint, private_endpoint
from mlops.render.infra.storage import storage_account
from mlops.render.infra.workspace import clusters, workspace

#: the tag a team's resources carry and its budget filters on
TEAM_TAG = "mlops-team"


@dataclass(frozen=True)
class TeamResource(Resource):
    """A resource with the template's tags plus the team's."""

    extra_tags: tuple[tuple[str, str], ...] = ()

    def to_arm(self, tags: dict[str, str]) -> dict[str, Any]:
        return super().to_arm({**tags, **dict(self.extra_tags)} if tags else tags)


def name_issues(config: Config) -> list[Issue]:
    """Names of a team's resources that break Azure's rules (`mlops config validate` reports
    them at load; rendering refuses them too, whatever built the config)."""
    from mlops.config.checks import team_name_errors

    return team_name_errors(config)


@dataclass(frozen=True)
class Shared:
    """What every team's workspace uses of the environment's resources."""

    vault: Resource
    registry: Resource
    insights: Resource
    vnet: Resource
    subnets: dict[str, Resource]
    zones: dict[str, str]


@dataclass(frozen=True)
class TeamWorkspace:
    team: str
    names: TeamNames
    workspace: Resource


def team_resources(
    template: Template, config: Config, env: str, shared: Shared
) -> list[TeamWorkspace]:
    """Each declared team's storage, workspace, training clusters and private endpoints (the
    workspace's and its storage's blob and file) in the environment's network."""
    problems = name_issues(config)
    if problems:
        raise ConfigError("team resource names do not fit Azure's rules", issues=problems)
    out = []
    for team in sorted(config.teams):
        team_names_ = names(config, env, team)
        first = len(template.resources)
        # the team's models are promoted out of its development workspace: its storage
        # admits the shared registry as the platform's does (storage.py, the reason)
        trains = env == next(iter(config.environments.azure))
        shares_to = registry_id(config, env) if trains else None
        storage = template.add(storage_account(team_names_.storage_account, shares_to))
        base = workspace(
            template, config, env, (storage, shared.vault, shared.registry, shared.insights)
        )
        properties = dict(base.properties)  # type: ignore[arg-type]
        properties |= {
            "friendlyName": team_names_.workspace,
            "description": f"{config.project.name} ({env}), team {team}",
        }
        ws = template.add(replace(base, name=team_names_.workspace, properties=properties))
        clusters(template, config, ws, shared.subnets.get("training", shared.vnet), shared.vnet)
        for endpoint in (
            Endpoint("mlw", ws.id_ref, "amlworkspace", ZONE_WORKSPACE, (ws,)),
            Endpoint(
                "blob", storage.id_ref, "blob", ("privatelink.blob.core.windows.net",), (storage,)
            ),
            Endpoint(
                "file", storage.id_ref, "file", ("privatelink.file.core.windows.net",), (storage,)
            ),
        ):
            private_endpoint(
                template,
                team_names_.workspace,
                endpoint,
                shared.subnets["private_endpoints"],
                shared.vnet,
                shared.zones,
            )
        tag_team(template, first, team)
        out.append(TeamWorkspace(team, team_names_, ws))
    return out


def tag_team(template: Template, first: int, team: str) -> None:
    """Tag the resources added since index `first` with the team (its budget's filter)."""
    for index in range(first, len(template.resources)):
        resource = template.resources[index]
        values = {f.name: getattr(resource, f.name) for f in fields(Resource)}
        template.resources[index] = TeamResource(**values, extra_tags=((TEAM_TAG, team),))
