"""The personas' roles per environment, derived from mlops.yaml (the governance table).

- platform owners: Contributor and RBAC Administrator (allowed to assign only the
  platform's roles) on every environment's resource group and on the shared one;
- platform engineers: Contributor and AzureML Compute Operator on every environment's
  resource group (no role-assignment rights), Contributor on the shared one;
- data scientists: in the first (development) environment the custom Data Scientist role on
  the workspace and Storage Blob Data Contributor on its storage account; Reader on the
  later environments' resource groups; AzureML Registry User on the shared registry;
- the CI/CD identity of each environment: the custom Data Scientist role on that
  environment's workspace and AzureML Registry User on the registry.

A grant says what a persona holds where; an assignment is a grant given to one principal
(an Entra group, or a CI/CD service principal). Grants exist whether or not mlops.yaml names
groups yet, so the matrix and `rbac check` answer for the policy itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mlops.config.platform import PERSONAS
from mlops.config.root import Config
from mlops.rbac import builtin
from mlops.rbac.permissions import Permission
from mlops.rbac.roles import Role, Scope, derived_guid, role_definition_id

CICD = "cicd"
#: every persona `rbac` commands accept, in the order tables show them
ALL_PERSONAS = (*PERSONAS, CICD)
SHARED = "shared"
MANAGED_MARKER = "Managed by mlops"

_ML = "Microsoft.MachineLearningServices/workspaces"
#: What the custom role takes away from AzureML Data Scientist, beyond its own notActions.
#: The built-in role lists only the wildcard forms `computes/*/write` and `computes/*/delete`,
#: which do not match `computes/write` itself, so its `workspaces/*/write` still creates
#: compute: the literal operations are listed too.
DATA_SCIENTIST_EXCLUSIONS = (
    f"{_ML}/computes/write",
    f"{_ML}/computes/delete",
    f"{_ML}/computes/*/write",
    f"{_ML}/computes/*/delete",
    f"{_ML}/computes/listKeys/action",
    f"{_ML}/write",
    f"{_ML}/delete",
    f"{_ML}/listKeys/action",
)


def data_scientist_role(config: Config) -> Role:
    """AzureML Data Scientist without compute management, workspace writes or key listing."""
    base = builtin.AZUREML_DATA_SCIENTIST.permission
    not_actions = list(base.not_actions)
    not_actions += [a for a in DATA_SCIENTIST_EXCLUSIONS if a not in not_actions]
    platform = f"{config.azure.name_prefix}-{config.project.name}"
    return Role(
        name=f"{platform} Data Scientist",
        id=derived_guid(platform, "roleDefinitions", "data-scientist"),
        description=(
            f"AzureML Data Scientist for the {config.project.name} platform without creating"
            " or deleting compute, writing or deleting the workspace, or listing keys."
            f" {MANAGED_MARKER}."
        ),
        permission=Permission(
            actions=(f"{_ML}/read", *base.actions),
            not_actions=tuple(not_actions),
        ),
        custom=True,
    )


@dataclass(frozen=True)
class Grant:
    """A role a persona holds at a scope, and why (for auditors)."""

    persona: str
    env: str  # the environment it belongs to, or "shared"
    scope: Scope
    role: Role
    why: str
    # RBAC Administrator only: the roles its holders may assign (the ABAC condition)
    assignable: tuple[Role, ...] = ()

    def condition(self) -> str | None:
        """Azure's ABAC condition limiting role-assignment writes and deletes to `assignable`."""
        if not self.assignable:
            return None
        guids = ", ".join(r.id for r in self.assignable)
        parts = []
        for verb, source in (("write", "Request"), ("delete", "Resource")):
            action = f"Microsoft.Authorization/roleAssignments/{verb}"
            attribute = "Microsoft.Authorization/roleAssignments:RoleDefinitionId"
            parts.append(
                f"((!(ActionMatches{{'{action}'}})) OR"
                f" (@{source}[{attribute}] ForAnyOfAnyValues:GuidEquals {{{guids}}}))"
            )
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
        return f"{MANAGED_MARKER}: {self.grant.persona} in {self.grant.env}"

    @property
    def label(self) -> str:
        return f"{self.grant.role.name} -> {self.principal.name} at {self.grant.scope.label}"


@dataclass(frozen=True)
class CustomRole:
    role: Role
    assignable_scopes: tuple[Scope, ...]  # the environments' resource groups
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


def role_model(config: Config) -> RoleModel:
    """Every grant and assignment mlops.yaml implies, in a stable order."""
    azure_envs = config.environments.azure
    ds_role = data_scientist_role(config)
    shared = config.shared_names()
    shared_sub = config.azure.subscription_id
    shared_rg = Scope("resource_group", shared.resource_group, shared.resource_group, shared_sub)
    registry = Scope("registry", shared.resource_group, shared.registry, shared_sub)
    delegable = (
        builtin.CONTRIBUTOR,
        builtin.AZUREML_COMPUTE_OPERATOR,
        builtin.READER,
        builtin.STORAGE_BLOB_DATA_CONTRIBUTOR,
        builtin.AZUREML_REGISTRY_USER,
        ds_role,
    )

    def owners(env: str, scope: Scope) -> list[Grant]:
        return [
            Grant("platform_owners", env, scope, builtin.CONTRIBUTOR, "run the platform"),
            Grant(
                "platform_owners",
                env,
                scope,
                builtin.RBAC_ADMINISTRATOR,
                "grant the platform's roles, and no others",
                assignable=delegable,
            ),
        ]

    grants: list[Grant] = []
    rg_scopes = []
    for index, (env, spec) in enumerate(azure_envs.items()):
        names = config.environment_names(env)
        sub = spec.subscription_id or config.azure.subscription_id
        rg = Scope("resource_group", names.resource_group, names.resource_group, sub)
        workspace = Scope("workspace", names.resource_group, names.workspace, sub)
        storage = Scope("storage_account", names.resource_group, names.storage_account, sub)
        rg_scopes.append(rg)
        grants += owners(env, rg)
        grants += [
            Grant("platform_engineers", env, rg, builtin.CONTRIBUTOR, "run the environment"),
            Grant(
                "platform_engineers",
                env,
                rg,
                builtin.AZUREML_COMPUTE_OPERATOR,
                "manage compute",
            ),
        ]
        if index == 0:
            grants += [
                Grant(
                    "data_scientists",
                    env,
                    workspace,
                    ds_role,
                    "experiment and train on existing compute",
                ),
                Grant(
                    "data_scientists",
                    env,
                    storage,
                    builtin.STORAGE_BLOB_DATA_CONTRIBUTOR,
                    "read and write development data",
                ),
            ]
        else:
            grants.append(
                Grant("data_scientists", env, rg, builtin.READER, "see what runs, change nothing")
            )
        if env in config.identities.cicd:
            stage = "train and register" if index == 0 else "deploy"
            grants += [
                Grant(CICD, env, workspace, ds_role, f"{stage} in the workspace"),
                Grant(
                    CICD,
                    env,
                    registry,
                    builtin.AZUREML_REGISTRY_USER,
                    "promote models" if index == 0 else "read promoted models",
                ),
            ]
    grants += owners(SHARED, shared_rg)
    grants += [
        Grant("platform_engineers", SHARED, shared_rg, builtin.CONTRIBUTOR, "run the registry"),
        Grant(
            "data_scientists",
            SHARED,
            registry,
            builtin.AZUREML_REGISTRY_USER,
            "read promoted models",
        ),
    ]
    custom = CustomRole(ds_role, tuple(rg_scopes), shared_sub)
    return RoleModel((custom,), tuple(grants), tuple(_assignments(config, grants)))


def principals(config: Config, persona: str, env: str) -> list[Principal]:
    """Who holds a persona's grants: its Entra groups, or the environment's CI/CD identity."""
    if persona == CICD:
        identity = config.identities.cicd.get(env)
        if identity is None:
            return []
        return [
            Principal(
                f"cicd-{env}",
                str(identity.object_id),
                "ServicePrincipal",
                ("identities", "cicd", env, "object_id"),
            )
        ]
    return [
        Principal(
            group.name, str(group.object_id), "Group", ("identities", persona, i, "object_id")
        )
        for i, group in enumerate(getattr(config.identities, persona))
    ]


def _assignments(config: Config, grants: list[Grant]) -> list[Assignment]:
    return [Assignment(g, p) for g in grants for p in principals(config, g.persona, g.env)]


def _field(persona: str, index: int) -> tuple[str | int, ...]:
    return ("identities", persona, index, "object_id")
