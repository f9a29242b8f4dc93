"""Platform sections of mlops.yaml: what the platform owner governs, shared by model projects."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

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
    _constrained,
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
    # Azure names these two subnets itself and wants /26 or larger:
    # /azure/firewall/firewall-faq ("Why does Azure Firewall need a /26 subnet size?");
    # /azure/bastion/configuration-settings ("AzureBastionSubnet ... /26 or larger")
    firewall: Cidr | None = Field(
        None,
        description="AzureFirewallSubnet (network.egress.type firewall); default: the"
        " address space's x.x.3.0/26.",
    )
    bastion: Cidr | None = Field(
        None,
        description="AzureBastionSubnet (network.access.bastion); default: x.x.3.64/26.",
    )
    jump_hosts: Cidr | None = Field(
        None, description="The jump host behind Bastion; default: x.x.3.128/27."
    )
    # GatewaySubnet: the name Azure requires, /27 or larger recommended
    # (/azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings, "Gateway subnet")
    gateway: Cidr | None = Field(
        None, description="GatewaySubnet (network.access.vpn); default: x.x.4.0/27."
    )
    # an inbound endpoint's subnet: /28 or larger, delegated to Microsoft.Network/dnsResolvers
    # (/azure/dns/dns-private-resolver-overview, "Subnet restrictions")
    dns_resolver: Cidr | None = Field(
        None,
        description="The DNS Private Resolver's inbound endpoint (network.access.vpn);"
        " default: x.x.4.64/28.",
    )


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


class Egress(Section):
    """How subnets with compute or agents reach the internet: never by Azure's default
    outbound access, which Microsoft recommends against for no-public-IP compute
    (/azure/machine-learning/how-to-secure-training-vnet, "outbound connectivity")."""

    type: Literal["nat_gateway", "firewall", "hub_firewall"] = Field(
        "nat_gateway",
        description="nat_gateway: a NAT gateway with a static public IP (simple, no"
        " filtering); firewall: an Azure Firewall in this network that allows only the"
        " destinations Microsoft lists; hub_firewall: route 0.0.0.0/0 to a firewall in the hub.",
    )
    firewall_sku: Literal["Standard", "Premium"] = Field(
        "Premium", description="Azure Firewall tier (firewall): Premium adds IDPS."
    )
    firewall_private_ip: str | None = Field(
        None,
        pattern=r"^\d+\.\d+\.\d+\.\d+$",
        description="Private IP of the hub firewall (hub_firewall): next hop of 0.0.0.0/0.",
    )
    package_indexes: bool = Field(
        True,
        description="Allow PyPI, conda and Ubuntu package hosts through the firewall (image"
        " builds install packages from them).",
    )


class JumpHost(Section):
    """A Linux jump host without public IP, reached through Bastion."""

    vm_size: VmSize = Field("Standard_B2s", description="VM size of the jump host.")
    admin_username: str = Field(
        "azureuser", pattern=r"^[a-z_][a-z0-9_-]{0,31}$", description="Local admin user."
    )
    ssh_public_key: str = Field(
        pattern=r"^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp256) ",
        description="SSH public key of the admin user (password login is disabled).",
    )


class Bastion(Section):
    """Azure Bastion in the environment's network: SSH from the browser or the az CLI."""

    sku: Literal["Basic", "Standard"] = Field(
        "Standard", description="Standard adds native-client (az network bastion ssh) access."
    )
    jump_host: JumpHost | None = Field(None, description="A jump host behind Bastion.")


class Hub(Section):
    """An existing hub virtual network the environment networks peer with."""

    virtual_network_id: str = Field(
        pattern=r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/"
        r"virtualNetworks/[^/]+$",
        description="Resource id of the hub virtual network.",
    )
    address_space: list[Cidr] = Field(
        default=[], description="The hub's address space: environments must not overlap it."
    )
    use_remote_gateways: bool = Field(
        False, description="Reach on-premises through the hub's VPN/ExpressRoute gateway."
    )


class Vpn(Section):
    """A point-to-site VPN gateway per environment: people connect with the Azure VPN Client,
    signed in with Microsoft Entra ID (OpenVPN), and resolve the private endpoints' names
    through a DNS Private Resolver in the network."""

    # Entra ID authentication needs the OpenVPN protocol, which the Basic SKU lacks; the AZ
    # SKUs are the zone-redundant ones (/azure/vpn-gateway/point-to-site-entra-gateway;
    # /azure/vpn-gateway/about-gateway-skus)
    sku: Literal["VpnGw1AZ", "VpnGw2AZ", "VpnGw3AZ", "VpnGw4AZ", "VpnGw5AZ"] = Field(
        "VpnGw1AZ", description="Gateway SKU (throughput and connection count)."
    )
    client_address_pool: Cidr = Field(
        "172.16.0.0/24",
        description="Addresses handed to VPN clients of the first environment; each later"
        " environment gets the next block of the same size. Must not overlap any network.",
    )

    def pools(self, envs: list[str]) -> dict[str, str]:
        """Each environment's client address pool: the next block for each."""
        size = ipaddress.IPv4Network(self.client_address_pool, strict=False).num_addresses
        return {env: _shift(self.client_address_pool, i * size) for i, env in enumerate(envs)}


class Access(Section):
    """How people reach the private workspace (/azure/machine-learning/how-to-secure-workspace-vnet,
    "Securely connect to your workspace": VPN gateway, ExpressRoute, or Bastion)."""

    bastion: Bastion | None = Field(None, description="Azure Bastion in each environment.")
    vpn: Vpn | None = Field(None, description="A point-to-site VPN gateway in each environment.")
    hub: Hub | None = Field(None, description="Peer each environment network with a hub.")


NetworkWatcherId = _constrained(
    "network_watcher_id",
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/networkWatchers/"
    r"[^/]+",
    "the resource id of a Network Watcher",
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/NetworkWatcherRG"
    "/providers/Microsoft.Network/networkWatchers/NetworkWatcher_westeurope",
)
StorageAccountId = _constrained(
    "storage_account_id",
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Storage/storageAccounts/"
    r"[a-z0-9]{3,24}",
    "the resource id of a storage account",
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/NetworkWatcherRG"
    "/providers/Microsoft.Storage/storageAccounts/stflowlogsweu",
)


class FlowLogRegion(Section):
    """Where one region's flow logs go. Azure keeps one Network Watcher per region and
    subscription, usually NetworkWatcher_<region> in NetworkWatcherRG, and a flow log lives
    under it; the storage account must be in the same region
    (/azure/network-watcher/vnet-flow-logs-overview)."""

    network_watcher_id: NetworkWatcherId = Field(description="The region's Network Watcher.")
    storage_account_id: StorageAccountId = Field(
        description="Storage account in the same region that receives the flow logs."
    )


class FlowLogs(Section):
    """Virtual network flow logs of each environment's network, with traffic analytics in its
    Log Analytics workspace. NSG flow logs are being retired (no new ones after 30 June 2025,
    retired 30 September 2027: /azure/network-watcher/nsg-flow-logs-overview); virtual
    network flow logs replace them (/azure/network-watcher/vnet-flow-logs-overview)."""

    regions: dict[Location, FlowLogRegion] = Field(
        min_length=1,
        description="Region of an environment to its Network Watcher and storage account.",
    )
    retention_days: int = Field(
        90,
        ge=0,
        le=365,
        description="Days the storage account keeps flow logs (0: forever); checkov's"
        " CKV_AZURE_12 asks for 90 or more.",
    )
    traffic_analytics_minutes: Literal[10, 60] = Field(
        60, description="How often traffic analytics processes the logs (10 or 60 minutes)."
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
        description="Address space of the first environment's virtual network; each later"
        " environment gets the next block of the same size (10.0.0.0/16, 10.1.0.0/16, ...) so"
        " they can all peer with one hub.",
    )
    address_spaces: dict[str, list[Cidr]] = Field(
        default={},
        description="Environment name to its own address space, instead of the derived one;"
        " its subnets keep their offsets.",
    )
    subnets: Subnets = Field(default=Subnets())
    private_dns_zones: PrivateDnsZones = Field(default=PrivateDnsZones())
    build_agents: BuildAgents = Field(default=BuildAgents())
    egress: Egress = Field(default=Egress())
    access: Access = Field(default=Access())
    flow_logs: FlowLogs | None = Field(
        None, description="Virtual network flow logs (vnet mode); none: no flow logs."
    )

    @model_validator(mode="after")
    def _derive_subnets(self) -> Network:
        """The subnets added for egress and access default to fixed offsets in the first
        address range, so a custom address space needs no new subnet settings."""
        base = ipaddress.IPv4Network(self.address_space[0], strict=False)
        for name, (offset, prefix) in DERIVED_SUBNETS.items():
            fits = offset + 2 ** (32 - prefix) <= base.num_addresses
            if getattr(self.subnets, name) is None and fits:
                address = base.network_address + offset
                setattr(self.subnets, name, f"{address}/{prefix}")
        return self

    def environment_addresses(self, envs: list[str]) -> dict[str, Addresses]:
        """Each environment's address space and subnets. The first environment uses
        `address_space` and `subnets`; each later one the next block of the same size
        unless `address_spaces` names its own; subnets keep their offsets in the block."""
        spaces = [ipaddress.IPv4Network(s, strict=False) for s in self.address_space]
        start = min(int(n.network_address) for n in spaces)
        end = max(int(n.broadcast_address) for n in spaces) + 1
        block = 1 << (end - start - 1).bit_length()  # the span, rounded to a power of two
        out = {}
        for index, env in enumerate(envs):
            if env in self.address_spaces:
                own = ipaddress.IPv4Network(self.address_spaces[env][0], strict=False)
                shift = int(own.network_address) - start
                space = list(self.address_spaces[env])
            else:
                shift = index * block
                space = [_shift(s, shift) for s in self.address_space]
            subnets = {
                k: _shift(v, shift) for k, v in self.subnets.model_dump().items() if v is not None
            }
            out[env] = Addresses(space, subnets)
        return out


#: subnet -> (offset in the first address range, prefix length) when not set
DERIVED_SUBNETS = {
    "firewall": (768, 26),
    "bastion": (832, 26),
    "jump_hosts": (896, 27),
    "gateway": (1024, 27),
    "dns_resolver": (1088, 28),
}


@dataclass(frozen=True)
class Addresses:
    """One environment's virtual network: its address space and subnet ranges."""

    address_space: list[str]
    subnets: dict[str, str]


def _shift(cidr: str, by: int) -> str:
    network = ipaddress.IPv4Network(cidr, strict=False)
    value = int(network.network_address) + by
    if value + network.num_addresses > 2**32:
        raise ValueError(f"{cidr} shifted by {by} addresses leaves the IPv4 address space")
    return f"{ipaddress.IPv4Address(value)}/{network.prefixlen}"


class Group(Section):
    """An Entra ID security group."""

    name: str = Field(min_length=1, max_length=256, description="Display name.")
    object_id: Guid = Field(description="Object id of the group.")


class WorkloadIdentity(Section):
    """The CI/CD identity of one environment (federated credentials, no secrets)."""

    client_id: Guid = Field(description="Application (client) id.")
    object_id: Guid = Field(description="Object id of its service principal, for role assignments.")


class Identities(Section):
    """Entra groups per persona, and one workload identity per purpose, each holding only
    the roles its job needs (see `mlops rbac matrix`)."""

    platform_owners: list[Group] = Field(default=[])
    platform_engineers: list[Group] = Field(default=[])
    data_scientists: list[Group] = Field(default=[])
    training: WorkloadIdentity | None = Field(
        None,
        description="Submits training pipelines and registers their models in the first"
        " (development) environment's workspace; reads the registry.",
    )
    promotion: WorkloadIdentity | None = Field(
        None,
        description="The only principal that writes assets to the shared registry (what"
        " test and prod deploy from).",
    )
    deployment: dict[str, WorkloadIdentity] = Field(
        default={},
        description="Environment name (test, prod, ...) to the identity that manages that"
        " environment's online endpoints and deployments; reads the registry.",
    )
    cicd: dict[str, WorkloadIdentity] = Field(
        default={},
        description="Environment name to the identity of its Azure DevOps service"
        " connection. Where `training` (first environment) or `deployment` (later ones) names"
        " no identity, this one holds that purpose's roles, and only those.",
    )
    platform: WorkloadIdentity | None = Field(
        None,
        description="The identity infra.yml plans and provisions with (Owner, or User Access"
        " Administrator + Contributor, on the subscription; granted once by hand).",
    )

    def groups(self) -> dict[str, list[Group]]:
        return {persona: getattr(self, persona) for persona in PERSONAS}


class JustInTime(Section):
    """Privileged Identity Management: platform engineers are eligible for Contributor in
    these environments and activate it themselves, for a bounded time, when they must."""

    environments: list[str] = Field(
        default=["prod"], min_length=1, description="Environments with eligible Contributor."
    )
    max_hours: int = Field(
        8, ge=1, le=24, description="Longest activation (the role's PIM policy maximum)."
    )
    eligible_days: int = Field(
        365, ge=1, le=3650, description="How long the eligibility itself lasts before renewal."
    )


class Governance(Section):
    """Controls beyond standing role assignments."""

    just_in_time: JustInTime | None = Field(
        None,
        description="Just-in-time elevation of platform engineers (PIM eligible assignments);"
        " none: no elevation, the Operator role is all they hold.",
    )


class SecurityScan(Section):
    """The CI's security checks: pip-audit (known vulnerabilities in the installed
    dependencies; it has no severity filter, so any finding fails) and bandit (static
    analysis of the project's code, failing at or above `severity`)."""

    severity: Literal["low", "medium", "high"] = Field(
        "medium",
        description="Bandit findings at or above this severity fail the build (bandit -l, -ll,"
        " -lll); pip-audit has no severity filter and fails on any known vulnerability.",
    )


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
    coverage_fail_under: int | None = Field(
        None,
        ge=0,
        le=100,
        description="CI fails when test coverage of the project's code (the folders"
        " pyproject.toml names: src/, and mlops/ where the platform's code lives) is below this"
        " percentage; none: coverage is published, not enforced.",
    )
    security: SecurityScan | None = Field(None, description="Security checks in CI; none: not run.")


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


#: a host name; {env} stands for the environment's name
TlsHostName = _constrained(
    "tls_host_name",
    r"(?:(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|\{env\})\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]",
    "a lowercase host name, where {env} stands for the environment name",
    "scoring.{env}.contoso.internal",
)
#: a Kubernetes secret name: a DNS subdomain name
#: (kubernetes.io/docs/concepts/overview/working-with-objects/names)
KubernetesSecretName = _constrained(
    "kubernetes_secret_name",
    r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?",
    "a Kubernetes secret name (lowercase letters, digits, '-' and '.')",
    "azureml-fe-tls",
)
#: a Key Vault secret name: 1-127 of 0-9, a-z, A-Z and '-'
#: (/azure/key-vault/general/about-keys-secrets-certificates, "Object identifiers");
#: {env} stands for the environment's name
KeyVaultSecretName = _constrained(
    "key_vault_secret_name",
    r"(?:[0-9A-Za-z-]|\{env\}){1,127}",
    "1-127 letters, digits and dashes, where {env} stands for the environment name",
    "azureml-fe-{env}-cert",
)
KeyVaultId = _constrained(
    "key_vault_id",
    r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/"
    r"[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]",
    "the resource id of a Key Vault",
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-certs"
    "/providers/Microsoft.KeyVault/vaults/kv-certs",
)


class KeyVaultPem(Section):
    """The router's certificate and key as two Key Vault secrets, each holding the PEM text
    (certificate: the full chain; key: not passphrase-protected). The deployment reads them
    through Key Vault references (/azure/azure-resource-manager/templates/key-vault-parameter):
    the vault needs `enabledForTemplateDeployment` and whoever deploys
    `Microsoft.KeyVault/vaults/deploy/action` on it; it may be in another subscription."""

    vault_id: KeyVaultId = Field(description="Resource id of the Key Vault holding both secrets.")
    certificate_secret: KeyVaultSecretName = Field(
        description="Secret with the PEM certificate chain; {env} is the environment name."
    )
    key_secret: KeyVaultSecretName = Field(
        description="Secret with the PEM private key; {env} is the environment name."
    )


class RouterTls(Section):
    """HTTPS on the inference router (azureml-fe): its host name and where its certificate
    comes from, one of `kubernetes_secret` or `key_vault`
    (/azure/machine-learning/how-to-secure-kubernetes-online-endpoint)."""

    cname: TlsHostName = Field(
        description="Host name clients call, the certificate's name (sslCname); {env} is the"
        " environment name. Point its DNS record at the router's internal load balancer IP."
    )
    kubernetes_secret: KubernetesSecretName | None = Field(
        None,
        description="sslSecret: a Kubernetes secret in the azureml namespace holding cert.pem"
        " and key.pem (Microsoft's best practice), which you create in the cluster.",
    )
    key_vault: KeyVaultPem | None = Field(
        None,
        description="The PEM certificate and key from Key Vault secrets, passed to the"
        " extension as protected settings.",
    )


class Kubernetes(Section):
    """The private AKS cluster per environment (when deployment.target is kubernetes)."""

    system_vm_size: VmSize = Field("Standard_D4ds_v5", description="VM size of system nodes.")
    node_vm_size: VmSize = Field(
        "Standard_D4ds_v5", description="VM size of the autoscaling user nodes that serve models."
    )
    min_nodes: int = Field(1, ge=0, le=1000, description="Fewest user nodes.")
    max_nodes: int = Field(5, ge=1, le=1000, description="Most user nodes.")
    tls: RouterTls | None = Field(
        None,
        description="HTTPS on the inference router; none: HTTP on the internal load balancer"
        " (allowInsecureConnections), which Microsoft recommends only for development and test.",
    )


class Compute(Section):
    """Training compute, created by platform engineers and used (never created) by scientists."""

    clusters: dict[ComputeName, Cluster] = Field(default={"cpu-cluster": Cluster()})
    kubernetes: Kubernetes = Field(default=Kubernetes())
