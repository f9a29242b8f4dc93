"""Who holds which role where per team: only on the team's own workspaces, storage and namespace.

A team's grants never sit on the resource group (a role there reaches every team's
workspace in it) but on the team's resources:

- data scientists: in the first (development) environment the custom Data Scientist role on
  the team's workspace and Storage Blob Data Contributor on the team's storage account; the
  custom Reader on the team's workspace in the later environments;
- engineers (who approve the team's releases): the custom Reader on the team's workspaces;
- the team's pipelines (its service connection's identity per environment,
  `teams.<team>.identities`): in the first environment train and register (Data Scientist
  role, Blob Data Contributor); in the later ones deploy (the custom Deployer role) on the
  team's workspace, and with AKS the Cluster User Role plus RBAC Reader on the team's
  namespace (follow a rollout; deploying goes through Azure ML);
- everyone of the team: Registry Reader on the shared registry. Azure RBAC scopes a
  registry's roles to the registry and nothing below it: its permissions are
  `registries/assets/read|write|delete` on the registry as a whole (/azure/machine-learning/
  how-to-manage-registries, "Add users to the registry"), and its models, environments and
  components are not Azure resources, so no role can be assigned on one of them. A team
  therefore reads every team's registry assets and writes none (only the promotion
  identity writes); per-team read access would need a registry per team.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops.config.root import Config
from mlops.naming import TeamNames
from mlops.rbac import builtin
from mlops.rbac.roles import Role, Scope

if TYPE_CHECKING:
    from mlops.rbac.model import Grant, Principal

DATA_SCIENTISTS, ENGINEERS, PIPELINES = "data_scientists", "engineers", "pipelines"
#: the personas of a team, in the order tables show them
TEAM_PERSONAS = (DATA_SCIENTISTS, ENGINEERS, PIPELINES)


def names(config: Config, env: str, team: str) -> TeamNames:
    from mlops.config.checks import team_names

    return team_names(config, env, team)


def scopes(config: Config, env: str, team: str) -> dict[str, Scope]:
    """The team's workspace, storage account and AKS namespace in `env`, as scopes."""
    env_names = config.environment_names(env)
    own = names(config, env, team)
    sub = config.environments.azure[env].subscription_id or config.azure.subscription_id
    rg = env_names.resource_group
    return {
        "workspace": Scope("workspace", rg, own.workspace, sub),
        "storage_account": Scope("storage_account", rg, own.storage_account, sub),
        "kubernetes": Scope("kubernetes", rg, env_names.kubernetes, sub),
        "kubernetes_namespace": Scope(
            "kubernetes_namespace", rg, f"{env_names.kubernetes}/namespaces/{own.namespace}", sub
        ),
    }


def team_grants(config: Config, roles: dict[str, Role], registry: Scope) -> list[Grant]:
    """Every team's grants, team by team, environment by environment."""
    from mlops.rbac.model import SHARED, Grant

    kubernetes = config.deployment.target == "kubernetes"
    envs = list(config.environments.azure)
    out: list[Grant] = []
    for team in sorted(config.teams):
        for env in envs:
            at = scopes(config, env, team)
            ws, storage = at["workspace"], at["storage_account"]

            def grant(
                persona: str, scope: Scope, role: Role, why: str, env: str = env, team: str = team
            ) -> Grant:
                return Grant(persona, env, scope, role, why, team=team)

            if env == envs[0]:
                out += [
                    grant(
                        DATA_SCIENTISTS,
                        ws,
                        roles["data-scientist"],
                        "experiment and train on the team's existing compute",
                    ),
                    grant(
                        DATA_SCIENTISTS,
                        storage,
                        builtin.STORAGE_BLOB_DATA_CONTRIBUTOR,
                        "read and write the team's development data",
                    ),
                    grant(
                        PIPELINES,
                        ws,
                        roles["data-scientist"],
                        "submit the team's training pipelines, register their models",
                    ),
                    grant(
                        PIPELINES,
                        storage,
                        builtin.STORAGE_BLOB_DATA_CONTRIBUTOR,
                        "upload the pipeline's code and data",
                    ),
                ]
            else:
                out += [
                    grant(DATA_SCIENTISTS, ws, roles["reader"], "see what runs, change nothing"),
                    grant(
                        PIPELINES,
                        ws,
                        roles["deployer"],
                        "deploy the team's promoted models to its endpoints",
                    ),
                ]
                if kubernetes:
                    out += [
                        grant(
                            PIPELINES,
                            at["kubernetes"],
                            builtin.AKS_CLUSTER_USER,
                            "get the cluster's kubeconfig, signing in with Entra ID",
                        ),
                        grant(
                            PIPELINES,
                            at["kubernetes_namespace"],
                            builtin.AKS_RBAC_READER,
                            "follow its deployments' rollout in the team's namespace only",
                        ),
                    ]
            out.append(
                grant(ENGINEERS, ws, roles["reader"], "see the team's runs, models and endpoints")
            )
        out += [
            Grant(
                persona,
                SHARED,
                registry,
                roles["registry-reader"],
                "read promoted models and components (Azure scopes no role below a registry)",
                team=team,
            )
            for persona in TEAM_PERSONAS
        ]
    return out


def team_principals(config: Config, team: str, persona: str, env: str) -> list[Principal]:
    """Who holds a team persona's grants in `env` (or "shared": every environment's)."""
    from mlops.rbac.model import SHARED, Principal

    spec = config.teams.get(team)
    if spec is None:
        return []
    if persona == PIPELINES:
        envs = list(spec.identities) if env == SHARED else [env]
        return [
            Principal(
                f"{team}-pipelines-{e}",
                str(spec.identities[e].object_id),
                "ServicePrincipal",
                ("teams", team, "identities", e, "object_id"),
            )
            for e in envs
            if e in spec.identities
        ]
    groups = spec.data_scientists if persona == DATA_SCIENTISTS else spec.engineers
    return [
        Principal(g.name, str(g.object_id), "Group", ("teams", team, persona, i, "object_id"))
        for i, g in enumerate(groups)
    ]
