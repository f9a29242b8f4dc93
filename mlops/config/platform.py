"""Platform sections of mlops.yaml: what the platform owner governs, shared by model projects."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from mlops.config._types import (
    BranchName,
    Cidr,
    ComputeName,
    DevCenterProjectId,
    DevOpsName,
    Guid,
    Location,
    NamePrefix,
    OrganizationUrl,
    PrivateDnsZoneId,
    ResourceGroupName,
    Section,
    VmSize,
)

PERSONAS = ("platform_owners", "platform_engineers", "data_scientists")


class Stacks(Section):
    """How `mlops provision` applies each stack (shared, each environment) as an ARM
    deployment stack: what happens to resources removed from mlops.yaml, and who may write
    to the resources a stack manages (deny settings, enforced by Azure)."""

    action_on_unmanage: Literal["detach", "delete"] = Field(
        "detach",
        description="A resource removed from mlops.yaml is left in Azure (detach) or deleted"
        " (delete); `mlops provision --prune` deletes for one run.",
    )
    deny: dict[str, Literal["none", "denyDelete", "denyWriteAndDelete"]] = Field(
        default={},
        description="Deny settings per stack (shared or an environment name). A stack not"
        " named here: none for dev, denyWriteAndDelete for every other one.",
    )
    break_glass: list[Guid] = Field(
        default=[],
        description="Object ids of the principals (besides identities.platform) still allowed"
        " to write to denied resources; Azure allows 5 excluded principals in all.",
    )


class Azure(Section):
    """The Azure tenant and subscription the platform lives in."""

    tenant_id: Guid | None = Field(None, description="Entra ID tenant (directory) id.")
    subscription_id: Guid | None = Field(
        None, description="Default subscription for every Azure environment."
    )
    location: Location | None = Field(
        None, description="Default Azure region (programmatic name, e.g. westeurope)."
    )
    name_prefix: NamePrefix = Field(
        "", description="Short organisation prefix put into every resource name."
    )
    shared_resource_group: ResourceGroupName | None = Field(
        None,
        description="Resource group of what the environments share (the Azure ML registry"
        " that promotes models); default: rg-<prefix>-<project>-shared.",
    )
    stacks: Stacks = Field(default=Stacks())


class Approval(Section):
    """Who must approve a deployment into an environment, enforced as an Azure DevOps check."""

    approvers: list[str] = Field(
        min_length=1,
        description="Persona names (platform_owners, ...) or group names from `identities`.",
    )
    min_approvers: int = Field(1, ge=1, description="How many approvals a deployment needs.")
    timeout_minutes: int = Field(
        1440, ge=1, le=43200, description="Minutes before a pending approval is rejected."
    )
    requester_can_approve: bool = Field(
        False, description="Whether whoever queued the run may approve it."
    )


class AzureEnvironment(Section):
    """One Azure environment (dev, test, prod, ...): a resource group with its own workspace."""

    resource_group: ResourceGroupName | None = Field(
        None, description="Resource group; default rg-<prefix>-<project>-<env>."
    )
    subscription_id: Guid | None = Field(None, description="Overrides azure.subscription_id.")
    location: Location | None = Field(None, description="Overrides azure.location.")
    approval: Approval | None = Field(
        None, description="Approval required before a model deploys into this environment."
    )


class LocalEnvironment(Section):
    """The embedded default: everything on this machine, no cloud."""

    state_dir: str = Field(
        ".mlops", min_length=1, description="Folder (relative to mlops.yaml) for local state."
    )


class Environments(Section):
    """`local` is always present; every other key names an Azure environment."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    local: LocalEnvironment = Field(default=LocalEnvironment())
    __pydantic_extra__: dict[str, AzureEnvironment]

    @property
    def azure(self) -> dict[str, AzureEnvironment]:
        """The Azure environments, in the order the file declares them."""
        return dict(self.__pydantic_extra__ or {})

    @property
    def names(self) -> list[str]:
        return ["local", *self.azure]


DEFAULT_ENVIRONMENTS = Environments.model_validate(
    {
        "dev": {},
        "test": {"approval": {"approvers": ["platform_engineers"]}},
        "prod": {"approval": {"approvers": ["platform_engineers"]}},
    }
)


class Subnets(Section):
    """Address ranges of the platform's subnets, one virtual network per environment."""

    private_endpoints: Cidr = Field(
        "10.0.0.0/24", description="Private endpoints of the workspace and its dependencies."
    )
    training: Cidr = Field("10.0.1.0/24", description="Compute clusters (vnet mode).")
    build_agents: Cidr = Field("10.0.2.0/24", description="The private build-agent pool.")
    aks: Cidr = Field("10.0.16.0/20", description="AKS nodes (deployment.target kubernetes).")


PRIVATE_DNS_ZONES = (
    "privatelink.api.azureml.ms",
    "privatelink.notebooks.azure.net",
    "privatelink.blob.core.windows.net",
    "privatelink.file.core.windows.net",
    "privatelink.vaultcore.azure.net",
    "privatelink.azurecr.io",
)


class PrivateDnsZones(Section):
    """Private DNS zones: created per environment, or existing ones (e.g. in a hub) by id."""

    create: bool = Field(True, description="Create the zones that `existing` does not name.")
    existing: dict[str, PrivateDnsZoneId] = Field(
        default={}, description="Zone name to the resource id of an existing zone."
    )


class BuildAgents(Section):
    """The private build-agent pool (a Managed DevOps Pool) that can reach private endpoints."""

    vm_size: VmSize = Field("Standard_D2ads_v5", description="VM size of each agent.")
    max_agents: int = Field(2, ge=1, le=100, description="Most agents running at once.")
    image: str = Field("ubuntu-22.04", min_length=1, description="Agent image alias.")
    dev_center_project_id: DevCenterProjectId | None = Field(
        None,
        description="Resource id of the Dev Center project the pool belongs to (created once"
        " per organisation); needed by `mlops provision`, not by `mlops render`.",
    )


class Network(Section):
    """Network isolation: no public access to the workspace or any of its dependencies."""

    mode: Literal["managed", "vnet"] = Field(
        "managed",
        description="managed: Azure ML managed virtual network; vnet: your own virtual network.",
    )
    outbound: Literal["allow_only_approved_outbound", "allow_internet_outbound"] = Field(
        "allow_only_approved_outbound", description="Managed network isolation mode."
    )
    address_space: list[Cidr] = Field(
        default=["10.0.0.0/16"],
        min_length=1,
        description="Address space of each environment's virtual network.",
    )
    subnets: Subnets = Field(default=Subnets())
    private_dns_zones: PrivateDnsZones = Field(default=PrivateDnsZones())
    build_agents: BuildAgents = Field(default=BuildAgents())


class Group(Section):
    """An Entra ID security group."""

    name: str = Field(min_length=1, max_length=256, description="Display name.")
    object_id: Guid = Field(description="Object id of the group.")


class WorkloadIdentity(Section):
    """The CI/CD identity of one environment (federated credentials, no secrets)."""

    client_id: Guid = Field(description="Application (client) id.")
    object_id: Guid = Field(description="Object id of its service principal, for role assignments.")


class Identities(Section):
    """Entra groups per persona and the CI/CD workload identity per environment."""

    platform_owners: list[Group] = Field(default=[])
    platform_engineers: list[Group] = Field(default=[])
    data_scientists: list[Group] = Field(default=[])
    cicd: dict[str, WorkloadIdentity] = Field(
        default={}, description="Environment name to its CI/CD workload identity."
    )
    platform: WorkloadIdentity | None = Field(
        None,
        description="The identity infra.yml plans and provisions with (Owner, or User Access"
        " Administrator + Contributor, on the subscription; granted once by hand).",
    )

    def groups(self) -> dict[str, list[Group]]:
        return {persona: getattr(self, persona) for persona in PERSONAS}


class DevOps(Section):
    """The Azure DevOps organisation, project and repository that run the pipelines."""

    organization_url: OrganizationUrl | None = Field(
        None, description="e.g. https://dev.azure.com/contoso."
    )
    project: DevOpsName | None = Field(None, description="Azure DevOps project name.")
    repository: DevOpsName | None = Field(None, description="Repository; default: project.name.")
    default_branch: BranchName = Field(
        "main", description="Protected branch: pull requests, reviewers, build validation."
    )
    min_reviewers: int = Field(
        1, ge=1, le=10, description="Reviewers a pull request into the default branch needs."
    )
    agent_pool: DevOpsName | None = Field(
        None,
        description="Agent pool of the CI and infrastructure pipelines; default: the first"
        " environment's Managed DevOps Pool (each environment's stages use its own pool).",
    )


class Cluster(Section):
    """An Azure ML compute cluster for training."""

    size: VmSize = Field("Standard_DS3_v2", description="VM size of each node.")
    min_nodes: int = Field(
        0, ge=0, le=1000, description="Nodes kept running; 0 costs nothing idle."
    )
    max_nodes: int = Field(4, ge=1, le=1000, description="Most nodes the cluster scales to.")
    idle_seconds: int = Field(
        1800, ge=0, le=86400, description="Idle time before nodes scale down."
    )
    tier: Literal["dedicated", "low_priority"] = Field(
        "dedicated", description="low_priority is cheaper and may be pre-empted."
    )


class Kubernetes(Section):
    """The private AKS cluster per environment (when deployment.target is kubernetes)."""

    system_vm_size: VmSize = Field("Standard_D4ds_v5", description="VM size of system nodes.")
    node_vm_size: VmSize = Field(
        "Standard_D4ds_v5", description="VM size of the autoscaling user nodes that serve models."
    )
    min_nodes: int = Field(1, ge=0, le=1000, description="Fewest user nodes.")
    max_nodes: int = Field(5, ge=1, le=1000, description="Most user nodes.")


class Compute(Section):
    """Training compute, created by platform engineers and used (never created) by scientists."""

    clusters: dict[ComputeName, Cluster] = Field(default={"cpu-cluster": Cluster()})
    kubernetes: Kubernetes = Field(default=Kubernetes())
