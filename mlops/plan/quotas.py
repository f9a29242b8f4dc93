"""Workspace-level compute quotas per team: `teams.<team>.quotas.cores.<env>`.

Azure ML counts dedicated cores per VM family against a quota per subscription and region,
and "you can set a maximum quota for individual VM families on workspaces in a subscription"
(/azure/machine-learning/how-to-manage-quotas, "Workspace-level quotas"). That setting is no
ARM resource: it is the action `POST .../providers/Microsoft.MachineLearningServices/
locations/{location}/updateQuotas` (REST "Quotas - Update", body `value[]` of `{id, type,
limit, unit}`), which needs subscription-level permissions ("You need subscription-level
permissions to set a quota at the workspace level", same page). So `mlops provision` sets it
after the stacks (the workspaces exist then), and `mlops plan` compares it with Azure's
`GET .../locations/{location}/quotas`.

The team's cores cap each VM family its dedicated training clusters use (the platform's
`compute.clusters`, which every team workspace has): a team with `cores: {dev: 32}` may run
at most 32 dedicated cores of each of those families in its dev workspace. Low-priority
cores are one subscription-wide number Azure does not split per workspace.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops.config.root import Config
from mlops.plan.changes import PropertyChange, ResourceChange

QUOTA = "Microsoft.MachineLearningServices/workspaces/quotas"
#: the stack name quota changes are listed under
QUOTAS = "quotas"


@dataclass(frozen=True)
class WorkspaceQuota:
    """The most dedicated cores of one VM family a team's workspace may use."""

    team: str
    env: str
    subscription_id: str
    resource_group: str
    location: str
    workspace: str
    family: str
    limit: int

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
            f"/quotas/{self.family}"
        )

    @property
    def name(self) -> str:
        return f"{self.workspace}/{self.family}"

    def body(self) -> dict[str, object]:
        return {"id": self.id, "type": QUOTA, "limit": self.limit, "unit": "Count"}


def dedicated_sizes(config: Config) -> list[str]:
    """The VM sizes of the dedicated training clusters, in order, once each."""
    sizes: list[str] = []
    for cluster in config.compute.clusters.values():
        if cluster.tier == "dedicated" and cluster.size not in sizes:
            sizes.append(cluster.size)
    return sizes


def wanted(
    config: Config, envs: list[str], families: dict[str, dict[str, str]]
) -> list[WorkspaceQuota]:
    """Every team's quota in `envs`; `families` is, per location, VM size (lowercase) to
    its family as Azure names it (`GET .../locations/{location}/vmSizes`: `family`), or
    the size itself when not read (an offline plan)."""
    from mlops.rbac.teams import names

    out = []
    for team, spec in sorted(config.teams.items()):
        for env in envs:
            cores = spec.quotas.cores.get(env)
            if cores is None:
                continue
            env_spec = config.environments.azure[env]
            location = env_spec.location or config.azure.location or ""
            known = families.get(location, {})
            seen = set()
            for size in dedicated_sizes(config):
                family = known.get(size.lower(), size)
                if family in seen:
                    continue
                seen.add(family)
                out.append(
                    WorkspaceQuota(
                        team=team,
                        env=env,
                        subscription_id=env_spec.subscription_id
                        or config.azure.subscription_id
                        or "{subscriptionId}",
                        resource_group=config.environment_names(env).resource_group,
                        location=location,
                        workspace=names(config, env, team).workspace,
                        family=family,
                        limit=cores,
                    )
                )
    return out


def changes(
    quotas: list[WorkspaceQuota], observed: dict[str, int | None]
) -> tuple[ResourceChange, ...]:
    """A create (no limit set yet), modify or no-change per quota; `observed` is quota id
    (lowercase) to the limit Azure reports."""
    out = []
    for quota in quotas:
        have = observed.get(quota.id.lower())
        if have == quota.limit:
            out.append(ResourceChange("no-change", QUOTA, quota.name, quota.id))
            continue
        action = "create" if have is None else "modify"
        kind = "create" if have is None else "modify"
        diff = (PropertyChange("limit", kind, before=have, after=quota.limit),)
        out.append(ResourceChange(action, QUOTA, quota.name, quota.id, diff))
    return tuple(out)
