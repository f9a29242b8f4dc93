"""Deterministic Azure resource names, each valid for its resource type's length and characters.

Names never get silently truncated: a name that does not fit is reported (see `NameRule.problem`)
so the user chooses a shorter project name or prefix instead of discovering a mangled one in
the portal. Globally unique names carry a short stable hash of the subscription and scope.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameRule:
    """Azure's naming rule for one resource type."""

    kind: str
    min_len: int
    max_len: int
    pattern: str
    chars: str

    def problem(self, name: str) -> str | None:
        """Return why `name` is not valid for this resource type, or None when it is."""
        if not self.min_len <= len(name) <= self.max_len:
            return (
                f"{self.kind} name '{name}' has {len(name)} characters; "
                f"Azure allows {self.min_len} to {self.max_len}"
            )
        if not re.fullmatch(self.pattern, name):
            return f"{self.kind} name '{name}' is invalid: {self.chars}"
        return None


RULES: dict[str, NameRule] = {
    "resource_group": NameRule(
        "resource group",
        1,
        90,
        r"[-\w.()]*[-\w()]",
        "letters, digits, '-', '_', '.', '(', ')'; not ending in '.'",
    ),
    "storage_account": NameRule(
        "storage account", 3, 24, r"[a-z0-9]+", "lowercase letters and digits only"
    ),
    "key_vault": NameRule(
        "key vault",
        3,
        24,
        r"[a-zA-Z](?!.*--)[a-zA-Z0-9-]*[a-zA-Z0-9]",
        "letters, digits and single hyphens; starts with a letter, ends with a letter or digit",
    ),
    "container_registry": NameRule(
        "container registry", 5, 50, r"[a-zA-Z0-9]+", "letters and digits only"
    ),
    "workspace": NameRule(
        "Azure ML workspace",
        3,
        33,
        r"[a-zA-Z0-9][a-zA-Z0-9_-]*",
        "letters, digits, '-' and '_'; starts with a letter or digit",
    ),
    "log_analytics": NameRule(
        "Log Analytics workspace",
        4,
        63,
        r"[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]",
        "letters, digits and '-'; starts and ends with a letter or digit",
    ),
    "app_insights": NameRule("Application Insights", 1, 255, r"[^%&\\?/]+", "no %, &, \\, ? or /"),
    "virtual_network": NameRule(
        "virtual network",
        2,
        64,
        r"[a-zA-Z0-9][a-zA-Z0-9_.-]*[a-zA-Z0-9_]",
        "letters, digits, '_', '.', '-'; ends with a letter, digit or '_'",
    ),
    "kubernetes": NameRule(
        "AKS cluster",
        1,
        63,
        r"[a-zA-Z0-9][a-zA-Z0-9_-]*[a-zA-Z0-9]",
        "letters, digits, '-' and '_'; starts and ends with a letter or digit",
    ),
    # azure-ai-ml's EndpointConfigurations (3 to 32, ^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$);
    # the name must be unique within the Azure region, since it is the host of the scoring
    # URI (https://NAME.REGION.inference.ml.azure.com): "the endpoint name must be unique
    # within an Azure region" (https://learn.microsoft.com/azure/machine-learning/
    # how-to-safely-rollout-online-endpoints)
    "online_endpoint": NameRule(
        "online endpoint",
        3,
        32,
        r"[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?",
        "letters, digits and '-'; starts with a letter, ends with a letter or digit",
    ),
    "agent_pool": NameRule(
        "Managed DevOps Pool",
        3,
        44,
        r"[a-zA-Z0-9][a-zA-Z0-9.-]*",
        "letters, digits, '.' and '-'; starts with a letter or digit",
    ),
}


def stable_hash(*parts: str, length: int = 4) -> str:
    """A short lowercase hex digest of `parts`: the same inputs always give the same suffix."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def _compact(*parts: str) -> str:
    return re.sub(r"[^a-z0-9]", "", "".join(parts).lower())


def _dashed(*parts: str) -> str:
    return "-".join(p for p in parts if p)


@dataclass(frozen=True)
class Names:
    """The names of one Azure environment's resources."""

    resource_group: str
    workspace: str
    storage_account: str
    key_vault: str
    container_registry: str
    log_analytics: str
    app_insights: str
    virtual_network: str
    kubernetes: str
    agent_pool: str
    online_endpoint: str

    def problems(self) -> list[str]:
        """Every name that breaks its resource type's rule, explained."""
        out = []
        for kind, rule in RULES.items():
            if not hasattr(self, kind):
                continue
            problem = rule.problem(getattr(self, kind))
            if problem:
                out.append(problem)
        return out


def default_resource_group(prefix: str, project: str, env: str) -> str:
    return _dashed("rg", prefix, project, env)


def environment_names(
    *,
    prefix: str,
    project: str,
    env: str,
    resource_group: str,
    subscription_id: str | None,
    endpoint: str | None = None,
) -> Names:
    """Names for one environment; the hash keys on subscription and resource group.

    The online endpoint is `ENDPOINT-ENV-HASH` (ENDPOINT: deployment.endpoint_name, default
    `<project>-online`): each environment its own, and another subscription's or resource
    group's of the same project never the same, as the region requires."""
    suffix = stable_hash(subscription_id or "", resource_group.lower(), project, env)
    return Names(
        resource_group=resource_group,
        workspace=_dashed("mlw", prefix, project, env),
        storage_account="st" + _compact(prefix, project, env) + suffix,
        key_vault="kv" + _compact(prefix, project, env) + suffix,
        container_registry="cr" + _compact(prefix, project, env) + suffix,
        log_analytics=_dashed("log", prefix, project, env),
        app_insights=_dashed("appi", prefix, project, env),
        virtual_network=_dashed("vnet", prefix, project, env),
        kubernetes=_dashed("aks", prefix, project, env),
        agent_pool=_dashed("mdp", prefix, project, env),
        online_endpoint=_dashed(endpoint or f"{project}-online", env, suffix),
    )


#: Azure ML registry names: 3 to 33 characters, letters, digits, '-' and '_'.
REGISTRY_RULE = NameRule(
    "Azure ML registry",
    3,
    33,
    r"[a-zA-Z0-9][a-zA-Z0-9_-]*",
    "letters, digits, '-' and '_'; starts with a letter or digit",
)


@dataclass(frozen=True)
class SharedNames:
    """Names of the resources every environment shares (the model registry)."""

    resource_group: str
    registry: str

    def problems(self) -> list[str]:
        out = [
            RULES["resource_group"].problem(self.resource_group),
            REGISTRY_RULE.problem(self.registry),
        ]
        return [p for p in out if p]


def shared_names(*, prefix: str, project: str, resource_group: str | None) -> SharedNames:
    """The shared stack's names; the registry is unique per tenant, hence no hash is needed."""
    return SharedNames(
        resource_group=resource_group or _dashed("rg", prefix, project, "shared"),
        registry=_dashed("mlr", prefix, project),
    )


# --- teams: what each team gets of its own in an environment -------------------------------
#: a Kubernetes namespace is a DNS label: 63 lowercase letters, digits and '-'
#: (kubernetes.io/docs/concepts/overview/working-with-objects/names, "RFC 1123 Label Names")
NAMESPACE_RULE = NameRule(
    "Kubernetes namespace",
    1,
    63,
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?",
    "lowercase letters, digits and '-'; starts and ends with a letter or digit",
)


@dataclass(frozen=True)
class TeamNames:
    """The names of one team's resources in one Azure environment."""

    team: str
    workspace: str
    storage_account: str
    namespace: str
    instance_type: str

    def problems(self) -> list[str]:
        out = [
            RULES["workspace"].problem(self.workspace),
            RULES["storage_account"].problem(self.storage_account),
            NAMESPACE_RULE.problem(self.namespace),
        ]
        return [p for p in out if p]


def team_names(
    *,
    prefix: str,
    project: str,
    env: str,
    team: str,
    resource_group: str,
    subscription_id: str | None,
) -> TeamNames:
    """A team's names in `env`. Team names are 2 to 12 lowercase letters or digits, so the
    workspace `mlw-TEAM-ENV-HASH` always fits Azure's 33 characters; the hash (of the
    platform, the resource group and the subscription) keeps two platforms sharing a
    resource group apart. The namespace is `team-TEAM`: a team called `azureml`, `default`
    or `kube…` never lands in Azure ML's or Kubernetes' own namespaces."""
    suffix = stable_hash(subscription_id or "", resource_group.lower(), prefix, project, team, env)
    return TeamNames(
        team=team,
        workspace=_dashed("mlw", team, env, suffix),
        storage_account="st" + _compact(team, env) + suffix,
        namespace=f"team-{team}",
        instance_type=f"{team}instancetype",
    )
