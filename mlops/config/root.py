"""The whole of mlops.yaml as one typed `Config`, with derived defaults filled in."""

from __future__ import annotations

import dataclasses

from pydantic import Field, model_validator

from mlops import naming
from mlops.config._types import AssetName, Section, TeamName
from mlops.config.cost import Cost
from mlops.config.monitoring import Monitoring
from mlops.config.platform import (
    DEFAULT_ENVIRONMENTS,
    Azure,
    Compute,
    DevOps,
    Environments,
    Governance,
    Identities,
    Network,
)
from mlops.config.project import DataAsset, Deployment, Model, Project
from mlops.config.teams import PlatformRef, Team

#: the curated scikit-learn environment with the inference server, as each target reads it
CURATED_REGISTRY_ENVIRONMENT = "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"
CURATED_WORKSPACE_ENVIRONMENT = "azureml:AzureML-sklearn-1.5@latest"


class Config(Section):
    """mlops.yaml. Platform sections first, then the model project's own sections."""

    # the model project's identity
    project: Project
    # platform: governed by the platform owner
    azure: Azure = Field(default=Azure())
    environments: Environments = Field(default=DEFAULT_ENVIRONMENTS)
    network: Network = Field(default=Network())
    identities: Identities = Field(default=Identities())
    governance: Governance = Field(default=Governance())
    devops: DevOps = Field(default=DevOps())
    compute: Compute = Field(default=Compute())
    cost: Cost = Field(default=Cost())
    teams: dict[TeamName, Team] = Field(
        default={},
        description="The teams on this platform (in the platform repository), each owning"
        " model repositories; `mlops team add` onboards one.",
    )
    # model project: owned by the data scientists of this repository
    data: dict[AssetName, DataAsset] = Field(
        default={},
        description="Named data assets: a local path for the local environment, an Azure path"
        " for the others.",
    )
    model: Model | None = None
    deployment: Deployment = Field(default=Deployment())
    monitoring: Monitoring = Field(default=Monitoring())
    platform: PlatformRef | None = Field(
        None,
        description="In a model repository: the platform it runs on and the team that owns"
        " it; the platform sections then come from the platform's mlops.yaml.",
    )

    @model_validator(mode="after")
    def _fill_derived_defaults(self) -> Config:
        """Fill defaults that depend on other fields, so `config show` prints what is used."""
        project = self.project.name
        prefix = self.azure.name_prefix
        for env_name, env in self.environments.azure.items():
            if env.resource_group is None:
                env.resource_group = naming.default_resource_group(prefix, project, env_name)
        if self.azure.shared_resource_group is None:
            self.azure.shared_resource_group = naming.shared_names(
                prefix=prefix, project=project, resource_group=None
            ).resource_group
        if self.platform is not None:  # a model repository: its own, not the platform's
            self.devops.repository = self.platform.model_repository or project
        if self.devops.repository is None:
            self.devops.repository = project
        if self.devops.agent_pool is None:
            first = next(iter(self.environments.azure), None)
            self.devops.agent_pool = (
                self.environment_names(first).agent_pool
                if first
                else "-".join(p for p in (prefix, project, "agents") if p)
            )
        if self.model is not None and self.model.name is None:
            self.model.name = project
        if self.deployment.endpoint_name is None:
            self.deployment.endpoint_name = f"{project}-online"
        if self.deployment.environment is None:
            self.deployment.environment = (
                CURATED_WORKSPACE_ENVIRONMENT
                if self.deployment.target == "kubernetes"
                else CURATED_REGISTRY_ENVIRONMENT
            )
        return self

    def environment_names(self, env: str) -> naming.Names:
        """Resource names of Azure environment `env`. In a model repository bound to a
        platform, the platform's resources and the team's own workspace and storage (what
        the platform provisions), never names derived from the model project."""
        spec = self.environments.azure[env]
        subscription = spec.subscription_id or self.azure.subscription_id
        platform = self.platform.platform_project if self.platform is not None else None
        names = naming.environment_names(
            prefix=self.azure.name_prefix,
            project=platform or self.project.name,
            env=env,
            resource_group=spec.resource_group or "",
            subscription_id=subscription,
            endpoint=self.deployment.endpoint_name,
        )
        if self.platform is None or platform is None:
            return names
        team = naming.team_names(
            prefix=self.azure.name_prefix,
            project=platform,
            env=env,
            team=self.platform.team,
            resource_group=spec.resource_group or "",
            subscription_id=subscription,
        )
        return dataclasses.replace(
            names, workspace=team.workspace, storage_account=team.storage_account
        )

    def shared_names(self) -> naming.SharedNames:
        """Names of the shared stack (the Azure ML registry): the platform's, in a bound
        model repository."""
        platform = self.platform.platform_project if self.platform is not None else None
        return naming.shared_names(
            prefix=self.azure.name_prefix,
            project=platform or self.project.name,
            resource_group=self.azure.shared_resource_group,
        )
