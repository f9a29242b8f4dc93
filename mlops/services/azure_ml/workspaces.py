"""Azure ML environments as mlops.yaml names them: each one's workspace, and the shared
registry. Environments are ordered as mlops.yaml declares them: the first trains (dev), the
later ones serve what the first produced."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops.config.loader import LoadedConfig
from mlops.errors import BadInputError, ConfigError

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

    from mlops.backends.azure.clients import AzureClients

#: (event, detail), for the CLI to show progress in a pipeline log
OnEvent = Callable[[str, str], None]
PROMOTED = "promoted"


@dataclass(frozen=True)
class Workspace:
    env: str
    subscription_id: str
    resource_group: str
    name: str

    def client(self, clients: AzureClients) -> MLClient:
        return clients.ml(self.subscription_id, self.resource_group, self.name)


def environment(loaded: LoadedConfig, env: str) -> None:
    """Exit 2 unless `env` is an Azure environment of mlops.yaml."""
    azure_envs = loaded.config.environments.azure
    if env not in azure_envs:
        raise BadInputError(
            f"environment '{env}' is not an Azure environment of {loaded.path.name}",
            hint=f"choose one of: {', '.join(azure_envs)}" if azure_envs else None,
        )


def workspace(loaded: LoadedConfig, env: str) -> Workspace:
    """An Azure environment's workspace; exit 2 for an unknown env or a missing subscription."""
    environment(loaded, env)
    config = loaded.config
    spec = config.environments.azure[env]
    sub = spec.subscription_id or config.azure.subscription_id
    if not sub:
        raise ConfigError(
            f"{loaded.path.name} has no subscription for {env}",
            issues=[
                loaded.issue(
                    ("azure", "subscription_id"),
                    "is needed to reach Azure ML",
                    "az account show --query id -o tsv",
                )
            ],
        )
    names = config.environment_names(env)
    return Workspace(env, sub, names.resource_group, names.workspace)


def registry(loaded: LoadedConfig, clients: AzureClients) -> MLClient:
    """The shared registry's client (it lives in azure.subscription_id)."""
    config = loaded.config
    if not config.azure.subscription_id:
        raise ConfigError(
            f"{loaded.path.name} has no subscription for the shared registry",
            issues=[
                loaded.issue(
                    ("azure", "subscription_id"),
                    "is needed to reach the shared model registry",
                    "az account show --query id -o tsv",
                )
            ],
        )
    shared = config.shared_names()
    return clients.ml_registry(config.azure.subscription_id, shared.resource_group, shared.registry)


def model_name(loaded: LoadedConfig) -> str:
    model = loaded.config.model
    return (model.name if model else None) or loaded.config.project.name
