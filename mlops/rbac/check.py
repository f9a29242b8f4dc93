"""Whether a persona may perform an Azure operation in an environment, as Azure decides it.

The operation's target is the environment's resource it belongs to (the workspace for
`Microsoft.MachineLearningServices/workspaces/...`, the storage account for
`Microsoft.Storage/...`, the shared registry for `.../registries/...`, the AKS cluster for
`Microsoft.ContainerService/managedClusters/...`, otherwise the resource group); every grant
at that scope or above it applies, each role on its own (actions minus that role's
notActions), and any one that allows the operation allows it.

Whether an operation is a data action comes from Microsoft's published operation list
(`operations`), never from its shape; a wildcard is not an operation, and an override that
contradicts the published list is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlops.config.root import Config
from mlops.errors import BadInputError
from mlops.rbac import operations
from mlops.rbac.model import Grant, RoleModel
from mlops.rbac.permissions import Decision
from mlops.rbac.roles import Scope

_TARGETS = (
    ("microsoft.machinelearningservices/registries", "registry"),
    ("microsoft.machinelearningservices/workspaces", "workspace"),
    ("microsoft.storage/storageaccounts", "storage_account"),
    ("microsoft.containerservice/managedclusters", "kubernetes"),
)


def target_scope(config: Config, env: str, operation: str, team: str | None = None) -> Scope:
    """The resource an operation acts on in `env` (an Azure environment of `config`); with
    `team`, that team's workspace, storage account or AKS namespace."""
    names = config.environment_names(env)
    spec = config.environments.azure[env]
    sub = spec.subscription_id or config.azure.subscription_id
    lowered = operation.lower()
    kind = next((k for prefix, k in _TARGETS if lowered.startswith(prefix)), "resource_group")
    if kind == "registry":
        shared = config.shared_names()
        return Scope(
            "registry", shared.resource_group, shared.registry, config.azure.subscription_id
        )
    if team is not None and kind != "resource_group":
        from mlops.rbac.teams import scopes

        own = scopes(config, env, team)
        return own["kubernetes_namespace" if kind == "kubernetes" else kind]
    name = {
        "workspace": names.workspace,
        "storage_account": names.storage_account,
        "resource_group": names.resource_group,
        "kubernetes": names.kubernetes,
    }[kind]
    return Scope(kind, names.resource_group, name, sub)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Verdict:
    persona: str
    operation: str
    env: str
    target: Scope
    data: bool
    decisions: tuple[tuple[Grant, Decision], ...]  # every grant that applies at the target
    source: str | None = None  # where the operation's classification comes from
    eligible: tuple[Grant, ...] = ()  # PIM eligibilities that would allow it once activated
    team: str | None = None  # the persona's team
    target_team: str | None = None  # whose resource the operation acts on

    @property
    def granting(self) -> list[Grant]:
        return [g for g, d in self.decisions if d.allowed]

    @property
    def allowed(self) -> bool:
        return bool(self.granting)

    @property
    def conditions(self) -> list[str]:
        """When every granting role carries a condition, the roles it lets holders assign."""
        granting = self.granting
        if not granting or any(not g.assignable for g in granting):
            return []
        return sorted({r.name for g in granting for r in g.assignable})

    def to_dict(self) -> dict[str, object]:
        return {
            "persona": self.persona,
            "team": self.team,
            "target_team": self.target_team,
            "operation": self.operation,
            "env": self.env,
            "scope": self.target.path(),
            "data_action": self.data,
            "allowed": self.allowed,
            "classified_by": self.source,
            "eligible": [g.role.name for g in self.eligible],
            "only_roles": self.conditions,
            "grants": [
                {
                    "role": g.role.name,
                    "scope": g.scope.path(),
                    "allowed": d.allowed,
                    "granted_by": d.granted_by,
                    "excluded_by": d.excluded_by,
                }
                for g, d in self.decisions
            ],
        }


def classify(operation: str, data: bool | None = None) -> tuple[bool, str | None]:
    """(is it a data action, the source that says so); `data` is the caller's override.

    Raises BadInputError for a wildcard, an operation its provider does not publish, an
    override contradicting the published list, and an unknown provider with no override."""
    if "*" in operation:
        raise BadInputError(
            f"'{operation}' is a wildcard, not an operation: Azure checks one operation at a time",
            hint="name one operation, e.g."
            " Microsoft.MachineLearningServices/workspaces/computes/write",
        )
    published = operations.lookup(operation)
    if published is not None:
        if data is not None and data != published.data_action:
            kind = "a data action" if published.data_action else "a control-plane action"
            raise BadInputError(
                f"{published.name} is {kind} in Microsoft's operation list: --data/--control"
                " cannot say otherwise",
                hint=f"drop the override (source: {published.source})",
            )
        return published.data_action, published.source
    if operations.vendored(operation):
        close = operations.similar(operation)
        raise BadInputError(
            f"'{operation}' is not in Microsoft's published operations of"
            f" {operations.namespace_of(operation)}",
            hint=("did you mean: " + ", ".join(close)) if close else "check its spelling",
        )
    if data is None:
        raise BadInputError(
            f"{operations.namespace_of(operation)} is not among the providers whose operations"
            " mlops keeps: say whether it is a data action",
            hint="add --data or --control",
        )
    return data, None


def check(
    config: Config,
    model: RoleModel,
    persona: str,
    operation: str,
    env: str,
    *,
    data: bool | None = None,
    team: str | None = None,
    target_team: str | None = None,
) -> Verdict:
    """Evaluate `operation` for `persona` (of `team`, when given) in `env`, as Azure would
    with standing roles, on the resource of `target_team` (default: the persona's own team;
    an AKS operation then acts in the team's namespace)."""
    is_data, source = classify(operation, data)
    whose = target_team or team
    target = target_scope(config, env, operation, whose)
    applying = [
        g
        for g in model.grants
        if g.persona == persona and g.team == team and g.scope.contains(target)
    ]
    decisions = tuple(
        (g, g.role.decide(operation, data=is_data)) for g in applying if not g.eligible
    )
    eligible = tuple(
        g for g in applying if g.eligible and g.role.decide(operation, data=is_data).allowed
    )
    return Verdict(
        persona, operation, env, target, is_data, decisions, source, eligible, team, whose
    )
