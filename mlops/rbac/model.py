"""Who holds which role where, derived from mlops.yaml (the governance table).

- platform owners: Contributor, and RBAC Administrator with a condition (only the platform's
  roles, only to the principals mlops.yaml declares), on every environment's resource group
  and on the shared one;
- platform engineers: the custom Operator role on every environment's resource group (no
  standing Contributor anywhere), Registry Reader on the shared registry;
- data scientists: in the first (development) environment the custom Data Scientist role on
  the workspace and Storage Blob Data Contributor on its storage account; the custom Reader
  on the later environments' resource groups; Registry Reader on the shared registry;
- the training identity (first environment): the Data Scientist role on that workspace,
  Storage Blob Data Contributor on its storage, Registry Reader;
- the promotion identity: Registry Publisher on the shared registry (the only writer of
  registry assets) and Reader on the development workspace it promotes from;
- the deployment identity of each later environment: the custom Deployer role on that
  environment's workspace, Registry Reader;
- with deployment.target kubernetes, on each environment's AKS cluster (Azure RBAC for
  Kubernetes authorization, /azure/aks/manage-azure-rbac): platform engineers the Cluster
  User Role (sign in with Entra ID) and RBAC Writer (operate what runs there, the router's
  TLS secret included); the deployment identity the Cluster User Role and RBAC Reader on the
  namespace its endpoints run in, to follow a rollout (deploying goes through Azure ML).

A grant says what a persona or identity holds where; an assignment is a grant given to one
principal. Grants exist whether or not mlops.yaml names the principals yet, so the matrix
and `rbac check` answer for the policy itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlops.config.platform import PERSONAS
from mlops.config.root import Config
from mlops.rbac import builtin
from mlops.rbac.custom import MARKER, SPECS, custom_role
from mlops.rbac.roles import Role, Scope, derived_guid, role_definition_id

TRAINING, PROMOTION, DEPLOYMENT = "training", "promotion", "deployment"
IDENTITIES = (TRAINING, PROMOTION, DEPLOYMENT)
#: every persona and identity `rbac` commands accept, in the order tables show them
ALL_PERSONAS = (*PERSONAS, *IDENTITIES)
SHARED = "shared"
MANAGED_MARKER = MARKER


def custom_roles(config: Config) -> dict[str, Role]:
    """The platform's custom roles by key (data-scientist, operator, ...)."""
    platform = f"{config.azure.name_prefix}-{config.project.name}"
    return {s.key: custom_role(platform, config.project.name, s) for s in SPECS}


def data_scientist_role(config: Config) -> Role:
    return custom_roles(config)["data-scientist"]


@dataclass(frozen=True)
class Grant:
    """A role a persona holds at a scope, and why (for auditors)."""

    persona: str
    env: str  # the environment it belongs to, or "shared"
    scope: Scope
    role: Role
    why: str
    # RBAC Administrator only: the roles its holders may assign, and to whom (ABAC condition)
    assignable: tuple[Role, ...] = ()
    assignees: tuple[str, ...] = ()  # principal object ids; empty: none declared yet
    eligible: bool = False  # a PIM eligibility (activated just in time), not a standing role
    team: str | None = None  # a team's grant (mlops.rbac.teams), on that team's resources

    def condition(self) -> str | None:
        """Azure's delegation condition on role-assignment writes and deletes: only the
        `assignable` roles, and (once mlops.yaml declares them) only to `assignees`."""
        if not self.assignable:
            return None
        guids = ", ".join(r.id for r in self.assignable)
        parts = []
        for verb, source in (("write", "Request"), ("delete", "Resource")):
            action = f"Microsoft.Authorization/roleAssignments/{verb}"
            attribute = "Microsoft.Authorization/roleAssignments"
            test = (
                f"@{source}[{attribute}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{guids}}}"
            )
            if self.assignees:
                ids = ", ".join(self.assignees)
                test += (
                    f" AND @{source}[{attribute}:PrincipalId]"
                    f" ForAnyOfAnyValues:GuidEquals {{{ids}}}"
                )
            parts.append(f"((!(ActionMatches{{'{action}'}})) OR ({test}))")
        return " AND ".join(parts)


PrincipalType = Literal["Group", "ServicePrincipal"]


@dataclass(frozen=True)
class Principal:
    name: str
    object_id: str
    type: PrincipalType
    field: tuple[str | int, ...]  # where mlops.yaml declares it, for error messages


@dataclass(frozen=True)
class Assignment:
    grant: Grant
    principal: Principal

    @property
    def subscription_id(self) -> str | None:
        return self.grant.scope.subscription_id

    @property
    def scope(self) -> str:
        return self.grant.scope.path()

    @property
    def name(self) -> str:
        """uuid5 of scope, principal and role: applying twice creates nothing twice."""
        return derived_guid(self.scope, self.principal.object_id, self.grant.role.id)

    @property
    def role_definition_id(self) -> str:
        return role_definition_id(self.grant.role, self.subscription_id)

    @property
    def description(self) -> str:
        team = f"team {self.grant.team} " if self.grant.team else ""
        return f"{MANAGED_MARKER}: {team}{self.grant.persona} in {self.grant.env}"

    @property
    def label(self) -> str:
        return f"{self.grant.role.name} -> {self.principal.name} at {self.grant.scope.label}"


@dataclass(frozen=True)
class CustomRole:
    key: str
    role: Role
    assignable_scopes: tuple[Scope, ...]  # resource groups
    subscription_id: str | None  # where the definition is created


@dataclass(frozen=True)
class RoleModel:
    custom_roles: tuple[CustomRole, ...]
    grants: tuple[Grant, ...]
    assignments: tuple[Assignment, ...]

    def for_env(self, env: str | None) -> RoleModel:
        """The grants and assignments of one environment and the shared ones."""
        if env is None:
            return self
        keep = {env, SHARED}
        return RoleModel(
            self.custom_roles,
            tuple(g for g in self.grants if g.env in keep),
            tuple(a for a in self.assignments if a.grant.env in keep),
        )

    @property
    def standing(self) -> tuple[Assignment, ...]:
        """Role assignments (PIM eligibilities are made by `eligibilities`)."""
        return tuple(a for a in self.assignments if not a.grant.eligible)

    @property
    def eligibilities(self) -> tuple[Assignment, ...]:
        return tuple(a for a in self.assignments if a.grant.eligible)


def role_model(config: Config) -> RoleModel:
    """Every grant and assignment mlops.yaml implies, in a stable order."""
    roles = custom_roles(config)
    azure_envs = config.environments.azure
    shared = config.shared_names()
    shared_sub = config.azure.subscription_id
    shared_rg = Scope("resource_group", shared.resource_group, shared.resource_group, shared_sub)
    registry = Scope("registry", shared.resource_group, shared.registry, shared_sub)
    kubernetes = config.deployment.target == "kubernetes"
    delegable = (
        builtin.CONTRIBUTOR,
        builtin.STORAGE_BLOB_DATA_CONTRIBUTOR,
        *roles.values(),
        *(AKS_ROLES if kubernetes else ()),
    )
    assignees = tuple(sorted({p.object_id for p in all_principals(config)}))
    jit = config.governance.just_in_time

    def owners(env: str, scope: Scope) -> list[Grant]:
        return [
            Grant("platform_owners", env, scope, builtin.CONTRIBUTOR, "run the platform"),
            Grant(
                "platform_owners",
                env,
                scope,
                builtin.RBAC_ADMINISTRATOR,
                "grant the platform's roles to its declared principals, and nothing else",
                assignable=delegable,
                assignees=assignees,
            ),
        ]

    grants: list[Grant] = []
    rg_scopes = []
    first = next(iter(azure_envs), None)
    for env, spec in azure_envs.items():
        names = config.environment_names(env)
        sub = spec.subscription_id or config.azure.subscription_id
        rg = Scope("resource_group", names.resource_group, names.resource_group, sub)
        workspace = Scope("workspace", names.resource_group, names.workspace, sub)
        storage = Scope("storage_account", names.resource_group, names.storage_account, sub)
        rg_scopes.append(rg)
        grants += owners(env, rg)
        grants.append(
            Grant(
                "platform_engineers",
                env,
                rg,
                roles["operator"],
                "run the environment: traffic, scale, rollback, start/stop, cancel",
            )
        )
        if jit is not None and env in jit.environments:
            grants.append(
                Grant(
                    "platform_engineers",
                    env,
                    rg,
                    builtin.CONTRIBUTOR,
                    f"break-glass, activated just in time for at most {jit.max_hours} h",
                    eligible=True,
                )
            )
        if env == first:
            grants += [
                Grant(
                    "data_scientists",
                    env,
                    workspace,
                    roles["data-scientist"],
                    "experiment and train on existing compute",
                ),
                Grant(
                    "data_scientists",
                    env,
                    storage,
                    builtin.STORAGE_BLOB_DATA_CONTRIBUTOR,
                    "read and write development data",
                ),
                Grant(
                    TRAINING,
                    env,
                    workspace,
                    roles["data-scientist"],
                    "submit training pipelines, register their models",
                ),
                Grant(
                    TRAINING,
                    env,
                    storage,
                    builtin.STORAGE_BLOB_DATA_CONTRIBUTOR,
                    "upload the pipeline's code and data",
                ),
                Grant(
                    PROMOTION,
                    env,
                    workspace,
                    roles["reader"],
                    "read the model it promotes",
                ),
            ]
        else:
            grants += [
                # with teams the resource group holds every team's workspace too: the
                # platform's own data scientists read only the platform's workspace there
                Grant(
                    "data_scientists",
                    env,
                    workspace if config.teams else rg,
                    roles["reader"],
                    "see what runs in the platform's workspace, change nothing"
                    if config.teams
                    else "see what runs, change nothing",
                ),
                Grant(
                    DEPLOYMENT,
                    env,
                    workspace,
                    roles["deployer"],
                    "deploy promoted models to this environment's endpoints",
                ),
            ]
            if config.monitoring.collection:
                # CT's daily check (the training identity) reads the newest run of this
                # environment's monitor schedule: a breached signal retrains (trigger drift)
                grants.append(
                    Grant(
                        TRAINING,
                        env,
                        workspace,
                        roles["reader"],
                        "read the endpoint's monitor runs: a breached signal retrains",
                    )
                )
        if kubernetes:
            grants += _kubernetes_grants(config, env, env == first)
    grants += owners(SHARED, shared_rg)
    grants += [
        Grant(
            persona,
            SHARED,
            registry,
            roles["registry-reader"],
            "read promoted models and components",
        )
        for persona in ("platform_engineers", "data_scientists", TRAINING, DEPLOYMENT)
    ]
    grants.append(
        Grant(
            PROMOTION,
            SHARED,
            registry,
            roles["registry-publisher"],
            "promote models: the only writer of registry assets",
        )
    )
    if config.teams:
        from mlops.rbac.teams import team_grants

        grants += team_grants(config, roles, registry)
    custom = tuple(
        CustomRole(
            spec.key,
            roles[spec.key],
            tuple(rg_scopes) if spec.assignable == "environments" else (shared_rg,),
            shared_sub,
        )
        for spec in SPECS
    )
    return RoleModel(custom, tuple(grants), tuple(_assignments(config, grants)))


AKS_ROLES = (builtin.AKS_CLUSTER_USER, builtin.AKS_RBAC_READER, builtin.AKS_RBAC_WRITER)
#: the namespace the Kubernetes compute runs endpoints in (render/infra/aks.py attaches it)
AKS_NAMESPACE = "azureml"


def _kubernetes_grants(config: Config, env: str, first: bool) -> list[Grant]:
    """AKS roles on the environment's cluster (its Azure RBAC authorization is on)."""
    names = config.environment_names(env)
    sub = config.environments.azure[env].subscription_id or config.azure.subscription_id
    cluster = Scope("kubernetes", names.resource_group, names.kubernetes, sub)
    namespace = Scope(
        "kubernetes_namespace",
        names.resource_group,
        f"{names.kubernetes}/namespaces/{AKS_NAMESPACE}",
        sub,
    )
    grants = [
        Grant(
            "platform_engineers",
            env,
            cluster,
            builtin.AKS_CLUSTER_USER,
            "get the cluster's kubeconfig, signing in with Entra ID",
        ),
        Grant(
            "platform_engineers",
            env,
            cluster,
            builtin.AKS_RBAC_WRITER,
            "operate what runs on the cluster (rollouts, the router's TLS secret);"
            " no roles or role bindings",
        ),
    ]
    if not first:
        grants += [
            Grant(
                DEPLOYMENT,
                env,
                cluster,
                builtin.AKS_CLUSTER_USER,
                "get the cluster's kubeconfig, signing in with Entra ID",
            ),
            Grant(
                DEPLOYMENT,
                env,
                namespace,
                builtin.AKS_RBAC_READER,
                "follow its deployments' rollout (pods, events) in the endpoints' namespace;"
                " no secrets",
            ),
        ]
    return grants


def principals(config: Config, persona: str, env: str) -> list[Principal]:
    """Who holds a persona's grants in `env` (or "shared"): its Entra groups, or the
    identity of that purpose; `identities.cicd` stands in where the purpose names none."""
    ids = config.identities
    envs = list(config.environments.azure)
    if persona == TRAINING:
        first = envs[0] if envs else None
        if ids.training is not None:
            return [_sp("training", ids.training.object_id, ("identities", "training"))]
        legacy = ids.cicd.get(first) if first else None
        if legacy is None:
            return []
        return [_sp(f"cicd-{first}", legacy.object_id, ("identities", "cicd", first))]
    if persona == PROMOTION:
        if ids.promotion is None:
            return []
        return [_sp("promotion", ids.promotion.object_id, ("identities", "promotion"))]
    if persona == DEPLOYMENT:
        targets = envs[1:] if env == SHARED else [env]
        out = []
        for target in targets:
            if target in ids.deployment:
                identity, field, name = (
                    ids.deployment[target],
                    ("identities", "deployment", target),
                    f"deployment-{target}",
                )
            elif target in ids.cicd:
                identity, field, name = (
                    ids.cicd[target],
                    ("identities", "cicd", target),
                    f"cicd-{target}",
                )
            else:
                continue
            out.append(_sp(name, identity.object_id, field))
        return out
    return [
        Principal(
            group.name, str(group.object_id), "Group", ("identities", persona, i, "object_id")
        )
        for i, group in enumerate(getattr(ids, persona))
    ]


def all_principals(config: Config) -> list[Principal]:
    """Every principal any grant goes to (what the owners' condition lets them assign to)."""
    from mlops.rbac.teams import TEAM_PERSONAS, team_principals

    out: dict[str, Principal] = {}
    for persona in ALL_PERSONAS:
        for env in (*config.environments.azure, SHARED):
            for p in principals(config, persona, env):
                out.setdefault(p.object_id, p)
    for team in sorted(config.teams):
        for persona in TEAM_PERSONAS:
            for p in team_principals(config, team, persona, SHARED):
                out.setdefault(p.object_id, p)
    return list(out.values())


def grant_principals(config: Config, grant: Grant) -> list[Principal]:
    """Who holds `grant`: its persona's principals, or its team's."""
    if grant.team is not None:
        from mlops.rbac.teams import team_principals

        return team_principals(config, grant.team, grant.persona, grant.env)
    return principals(config, grant.persona, grant.env)


def _sp(name: str, object_id: object, field: tuple[str | int, ...]) -> Principal:
    return Principal(name, str(object_id), "ServicePrincipal", field)


def _assignments(config: Config, grants: list[Grant]) -> list[Assignment]:
    return [Assignment(g, p) for g in grants for p in grant_principals(config, g)]
