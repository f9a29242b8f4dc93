"""The ARM templates of the platform: one per Azure environment plus the shared stack.

Private networking is all or nothing: the workspace and every dependency (storage, Key Vault,
container registry, model registry) refuse public traffic and are reached through private
endpoints in the environment's virtual network, where the private build agents run too.
`network.mode` decides where training runs: `managed` puts compute in Azure ML's managed
virtual network (outbound limited to approved destinations), `vnet` in our training subnet.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mlops.config.platform import PRIVATE_DNS_ZONES
from mlops.config.root import Config
from mlops.render.arm import Parameter, Resource, Template, quote

# api-versions: the newest stable ones the ARM resource schemas describe
API = {
    "logs": "2023-09-01",
    "insights": "2020-02-02",
    "storage": "2024-01-01",
    "keyvault": "2024-11-01",
    "acr": "2023-07-01",
    "ml": "2024-10-01",
    "network": "2024-05-01",
    "dns": "2024-06-01",
    "pools": "2024-10-19",
    "aks": "2024-09-01",
    "k8s_extension": "2023-05-01",
}

ZONE_WORKSPACE = ("privatelink.api.azureml.ms", "privatelink.notebooks.azure.net")


@dataclass(frozen=True)
class Endpoint:
    """A private endpoint: what it connects to, the sub-resource and its DNS zones."""

    suffix: str
    target: str  # id expression (without brackets) of the resource it connects
    group: str
    zones: tuple[str, ...]
    depends_on: tuple[Resource, ...] = ()


def _tags(config: Config, env: str) -> dict[str, str]:
    return {"project": config.project.name, "environment": env, "managed-by": "mlops"}


def _common_parameters(template: Template, location: str | None, tags: dict[str, str]) -> None:
    template.parameters["location"] = Parameter(
        "string", "Azure region of the resources.", "[resourceGroup().location]"
    )
    template.tags = tags
    if location:
        template.values["location"] = location


def environment_template(config: Config, env: str) -> Template:
    """The template of Azure environment `env`, deployed into its resource group."""
    names = config.environment_names(env)
    spec = config.environments.azure[env]
    net = config.network
    template = Template(
        f"mlops platform, environment '{env}' of project '{config.project.name}'"
        f" (network mode: {net.mode}). Rendered from mlops.yaml by `mlops render`: do not edit."
    )
    _common_parameters(template, spec.location or config.azure.location, _tags(config, env))

    logs = template.add(
        Resource(
            "Microsoft.OperationalInsights/workspaces",
            API["logs"],
            names.log_analytics,
            {"sku": {"name": "PerGB2018"}, "retentionInDays": 30},
        )
    )
    insights = template.add(
        Resource(
            "Microsoft.Insights/components",
            API["insights"],
            names.app_insights,
            {
                "Application_Type": "web",
                "WorkspaceResourceId": logs.id,
                "DisableLocalAuth": True,
            },
            kind="web",
            depends_on=(logs,),
        )
    )
    trains = env == next(iter(config.environments.azure))  # models are shared out of it
    shares_to = _registry_id(config) if trains else None
    storage = template.add(_storage(names.storage_account, shares_to))
    vault = template.add(_key_vault(names.key_vault))
    registry = template.add(_container_registry(names.container_registry))
    workspace = template.add(
        Resource(
            "Microsoft.MachineLearningServices/workspaces",
            API["ml"],
            names.workspace,
            {
                "friendlyName": names.workspace,
                "description": f"{config.project.name} ({env})",
                "storageAccount": storage.id,
                "keyVault": vault.id,
                "containerRegistry": registry.id,
                "applicationInsights": insights.id,
                "publicNetworkAccess": "Disabled",
                "systemDatastoresAuthMode": "identity",
                "v1LegacyMode": False,
                "managedNetwork": _managed_network(template, config),
            },
            sku={"name": "Basic", "tier": "Basic"},
            identity={"type": "SystemAssigned"},
            depends_on=(storage, vault, registry, insights),
            skips=_workspace_skips(config),
        )
    )

    vnet, subnets = _network(template, config, names.virtual_network)
    for cluster_name, cluster in config.compute.clusters.items():
        properties = {
            "vmSize": cluster.size,
            "vmPriority": "Dedicated" if cluster.tier == "dedicated" else "LowPriority",
            "scaleSettings": {
                "minNodeCount": cluster.min_nodes,
                "maxNodeCount": cluster.max_nodes,
                "nodeIdleTimeBeforeScaleDown": f"PT{cluster.idle_seconds}S",
            },
            "enableNodePublicIp": False,
            "remoteLoginPortPublicAccess": "Disabled",
        }
        depends: tuple[Resource, ...] = (workspace,)
        if net.mode == "vnet":
            properties["subnet"] = {"id": subnets["training"].id}
            depends = (workspace, vnet)
        template.add(
            _compute(
                template,
                f"{names.workspace}/{cluster_name}",
                {"computeType": "AmlCompute", "disableLocalAuth": True, "properties": properties},
                depends,
            )
        )

    model_registry_id = _registry_id(config)
    endpoints = [
        Endpoint("mlw", workspace.id_ref, "amlworkspace", ZONE_WORKSPACE, (workspace,)),
        Endpoint(
            "blob", storage.id_ref, "blob", ("privatelink.blob.core.windows.net",), (storage,)
        ),
        Endpoint(
            "file", storage.id_ref, "file", ("privatelink.file.core.windows.net",), (storage,)
        ),
        Endpoint("kv", vault.id_ref, "vault", ("privatelink.vaultcore.azure.net",), (vault,)),
        Endpoint("cr", registry.id_ref, "registry", ("privatelink.azurecr.io",), (registry,)),
        Endpoint("mlr", model_registry_id, "amlregistry", ("privatelink.api.azureml.ms",)),
    ]
    zones = _private_dns_zones(template, config, vnet)
    for endpoint in endpoints:
        _private_endpoint(
            template, names.workspace, endpoint, subnets["private_endpoints"], vnet, zones
        )

    _build_agent_pool(template, config, names.agent_pool, subnets["build_agents"], vnet)
    if config.deployment.target == "kubernetes":
        _kubernetes(template, config, names.kubernetes, workspace, subnets["aks"], vnet, logs)

    template.outputs = {
        "workspaceName": {"type": "string", "value": names.workspace},
        "workspaceId": {"type": "string", "value": workspace.id},
        "virtualNetworkId": {"type": "string", "value": vnet.id},
    }
    return template


def shared_template(config: Config) -> Template:
    """What the environments share: the Azure ML registry that models are promoted through."""
    shared = config.shared_names()
    template = Template(
        f"mlops platform, shared stack of project '{config.project.name}': the Azure ML"
        " registry the environments promote models through. Rendered by `mlops render`."
    )
    _common_parameters(template, config.azure.location, _tags(config, "shared"))
    regions = []
    for spec in config.environments.azure.values():
        region = spec.location or config.azure.location
        if region and region not in regions:
            regions.append(region)
    region_details = [
        {
            "location": region,
            "storageAccountDetails": [
                {
                    "systemCreatedStorageAccount": {
                        "storageAccountType": "Standard_LRS",
                        "storageAccountHnsEnabled": False,
                        "allowBlobPublicAccess": False,
                    }
                }
            ],
            "acrDetails": [{"systemCreatedAcrAccount": {"acrAccountSku": "Premium"}}],
        }
        for region in (regions or ["[parameters('location')]"])
    ]
    registry = template.add(
        Resource(
            "Microsoft.MachineLearningServices/registries",
            API["ml"],
            shared.registry,
            {"publicNetworkAccess": "Disabled", "regionDetails": region_details},
            identity={"type": "SystemAssigned"},
        )
    )
    template.outputs = {
        "registryName": {"type": "string", "value": shared.registry},
        "registryId": {"type": "string", "value": registry.id},
    }
    return template


def _workspace_skips(config: Config) -> tuple[tuple[str, str], ...]:
    if config.network.mode == "managed":
        return ()
    return (
        (
            "CKV_AZURE_243",
            "vnet mode: the workspace is reached through its private endpoint in this"
            " template's virtual network; managed-network outbound rules, which the check"
            " looks for, exist only in managed mode",
        ),
    )


def _compute(
    template: Template, name: str, body: dict, depends_on: tuple[Resource, ...]
) -> Resource:
    """A workspace compute; its body (discriminated by `computeType`) is a template variable."""
    return Resource(
        "Microsoft.MachineLearningServices/workspaces/computes",
        API["ml"],
        name,
        template.variable("compute-" + name.rsplit("/", 1)[1], body),
        identity={"type": "SystemAssigned"},
        depends_on=depends_on,
    )


def _managed_network(template: Template, config: Config) -> dict:
    """Managed mode: outbound only to approved destinations, the model registry among them."""
    network: dict = {"isolationMode": _isolation_mode(config)}
    if config.network.mode == "managed":
        rule = {
            "type": "PrivateEndpoint",
            "category": "UserDefined",
            "destination": {
                "serviceResourceId": f"[{_registry_id(config)}]",
                "subresourceTarget": "amlregistry",
                "sparkEnabled": False,
            },
        }
        network["outboundRules"] = template.variable("outbound-rules", {"model-registry": rule})
    return network


def _registry_id(config: Config) -> str:
    """Id expression (without brackets) of the shared Azure ML registry."""
    shared = config.shared_names()
    return (
        f"resourceId({quote(shared.resource_group)}, "
        f"'Microsoft.MachineLearningServices/registries', {quote(shared.registry)})"
    )


def _isolation_mode(config: Config) -> str:
    if config.network.mode == "vnet":
        return "Disabled"
    if config.network.outbound == "allow_internet_outbound":
        return "AllowInternetOutbound"
    return "AllowOnlyApprovedOutbound"


def _storage(name: str, shares_to: str | None = None) -> Resource:
    """The workspace's storage: private. The first environment's also admits the shared
    registry as a resource instance, or promotion could not copy a model out of it:

    "it isn't possible to share an asset from secure workspace to a private registry if the
    storage account containing the asset has public access disabled. To enable asset sharing
    ... Set Public network access to Enabled from selected virtual networks and IP addresses
    ... Resource type Microsoft.MachineLearningServices/registries" (https://learn.microsoft.com/
    azure/machine-learning/how-to-registry-network-isolation, "Share assets from workspace to
    registry"). No IP or virtual network rule is added: the default action stays Deny."""
    acls: dict = {"defaultAction": "Deny", "bypass": "AzureServices"}
    if shares_to is not None:
        acls |= {
            "ipRules": [],
            "virtualNetworkRules": [],
            "resourceAccessRules": [
                {"tenantId": "[subscription().tenantId]", "resourceId": f"[{shares_to}]"}
            ],
        }
    return Resource(
        "Microsoft.Storage/storageAccounts",
        API["storage"],
        name,
        {
            "accessTier": "Hot",
            "minimumTlsVersion": "TLS1_2",
            "supportsHttpsTrafficOnly": True,
            "allowBlobPublicAccess": False,
            "allowSharedKeyAccess": False,
            "allowCrossTenantReplication": False,
            "defaultToOAuthAuthentication": True,
            "publicNetworkAccess": "Disabled" if shares_to is None else "Enabled",
            "networkAcls": acls,
            "encryption": {
                "keySource": "Microsoft.Storage",
                "requireInfrastructureEncryption": True,
                "services": {
                    "blob": {"enabled": True, "keyType": "Account"},
                    "file": {"enabled": True, "keyType": "Account"},
                },
            },
        },
        sku={"name": "Standard_GRS"},
        kind="StorageV2",
        skips=(
            (
                "CKV_AZURE_59",
                "public network access is Enabled only so the shared registry, as a resource"
                " instance rule, can copy models out; the default action stays Deny with no IP"
                " or VNet rule (how-to-registry-network-isolation)",
            ),
        )
        if shares_to is not None
        else (),
    )


def _key_vault(name: str) -> Resource:
    return Resource(
        "Microsoft.KeyVault/vaults",
        API["keyvault"],
        name,
        {
            "tenantId": "[subscription().tenantId]",
            "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": True,
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": 90,
            "enablePurgeProtection": True,
            "publicNetworkAccess": "Disabled",
            "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
        },
    )


def _container_registry(name: str) -> Resource:
    return Resource(
        "Microsoft.ContainerRegistry/registries",
        API["acr"],
        name,
        {
            "adminUserEnabled": False,
            "publicNetworkAccess": "Disabled",
            "networkRuleBypassOptions": "AzureServices",
            "anonymousPullEnabled": False,
            "dataEndpointEnabled": True,
            "zoneRedundancy": "Enabled",
            "policies": {
                "quarantinePolicy": {"status": "enabled"},
                "retentionPolicy": {"status": "enabled", "days": 30},
                "trustPolicy": {"status": "enabled", "type": "Notary"},
                "exportPolicy": {"status": "disabled"},
            },
        },
        sku={"name": "Premium"},
    )


def _subnet_plan(config: Config) -> dict[str, str]:
    """Subnet name to address range: only the subnets this configuration uses."""
    subnets = config.network.subnets
    out = {"private_endpoints": subnets.private_endpoints, "build_agents": subnets.build_agents}
    if config.network.mode == "vnet":
        out["training"] = subnets.training
    if config.deployment.target == "kubernetes":
        out["aks"] = subnets.aks
    return out


SUBNET_NAMES = {
    "private_endpoints": "snet-private-endpoints",
    "build_agents": "snet-build-agents",
    "training": "snet-training",
    "aks": "snet-aks",
}


def _network(
    template: Template, config: Config, vnet_name: str
) -> tuple[Resource, dict[str, Resource]]:
    """The virtual network with its subnets inline (so a re-deploy never drops a subnet)."""
    nsgs = {}
    for key in _subnet_plan(config):
        nsgs[key] = template.add(
            Resource(
                "Microsoft.Network/networkSecurityGroups",
                API["network"],
                f"nsg-{vnet_name.removeprefix('vnet-')}-{SUBNET_NAMES[key].removeprefix('snet-')}",
                {"securityRules": []},
            )
        )
    subnets_arm = []
    refs = {}
    for key, prefix in _subnet_plan(config).items():
        name = SUBNET_NAMES[key]
        properties: dict = {
            "addressPrefix": prefix,
            "networkSecurityGroup": {"id": nsgs[key].id},
            "privateEndpointNetworkPolicies": "Enabled",
            "defaultOutboundAccess": False,
        }
        if key == "build_agents":
            properties["delegations"] = [
                {
                    "name": "managed-devops-pools",
                    "properties": {"serviceName": "Microsoft.DevOpsInfrastructure/pools"},
                }
            ]
        subnets_arm.append({"name": name, "properties": properties})
        refs[key] = Resource(
            "Microsoft.Network/virtualNetworks/subnets", API["network"], f"{vnet_name}/{name}"
        )
    vnet = template.add(
        Resource(
            "Microsoft.Network/virtualNetworks",
            API["network"],
            vnet_name,
            {
                "addressSpace": {"addressPrefixes": list(config.network.address_space)},
                "subnets": subnets_arm,
            },
            depends_on=tuple(nsgs.values()),
        )
    )
    return vnet, refs


def _private_dns_zones(template: Template, config: Config, vnet: Resource) -> dict[str, str]:
    """Zone name -> id expression: existing zones by id, the others created and linked."""
    settings = config.network.private_dns_zones
    zones: dict[str, str] = {}
    for zone in PRIVATE_DNS_ZONES:
        if zone in settings.existing:
            zones[zone] = settings.existing[zone]
            continue
        if not settings.create:
            continue
        created = template.add(
            Resource("Microsoft.Network/privateDnsZones", API["dns"], zone, {}, location="global")
        )
        template.add(
            Resource(
                "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
                API["dns"],
                f"{zone}/{vnet.name}",
                {"registrationEnabled": False, "virtualNetwork": {"id": vnet.id}},
                location="global",
                depends_on=(created, vnet),
            )
        )
        zones[zone] = created.id
    return zones


def _private_endpoint(
    template: Template,
    workspace_name: str,
    endpoint: Endpoint,
    subnet: Resource,
    vnet: Resource,
    zones: dict[str, str],
) -> None:
    name = f"pe-{workspace_name.removeprefix('mlw-')}-{endpoint.suffix}"
    pe = template.add(
        Resource(
            "Microsoft.Network/privateEndpoints",
            API["network"],
            name,
            {
                "subnet": {"id": subnet.id},
                "privateLinkServiceConnections": [
                    {
                        "name": name,
                        "properties": {
                            "privateLinkServiceId": f"[{endpoint.target}]",
                            "groupIds": [endpoint.group],
                        },
                    }
                ],
            },
            depends_on=(vnet, *endpoint.depends_on),
        )
    )
    configs = [
        {"name": zone.replace(".", "-"), "properties": {"privateDnsZoneId": zones[zone]}}
        for zone in endpoint.zones
        if zone in zones
    ]
    if configs:
        template.add(
            Resource(
                "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
                API["network"],
                f"{name}/default",
                {"privateDnsZoneConfigs": configs},
                location=None,
                tags=False,
                depends_on=(pe, *_zone_resources(template, endpoint.zones)),
            )
        )


def _zone_resources(template: Template, zone_names: tuple[str, ...]) -> Iterator[Resource]:
    for resource in template.resources:
        if resource.type == "Microsoft.Network/privateDnsZones" and resource.name in zone_names:
            yield resource


def _build_agent_pool(
    template: Template, config: Config, name: str, subnet: Resource, vnet: Resource
) -> None:
    """A Managed DevOps Pool in its own subnet: the agents that reach the private workspace."""
    agents = config.network.build_agents
    template.parameters["devCenterProjectResourceId"] = Parameter(
        "string", "Dev Center project the build-agent pool belongs to."
    )
    template.parameters["organizationUrl"] = Parameter(
        "string", "Azure DevOps organization the build agents serve."
    )
    if agents.dev_center_project_id:
        template.values["devCenterProjectResourceId"] = agents.dev_center_project_id
    if config.devops.organization_url:
        template.values["organizationUrl"] = config.devops.organization_url
    template.add(
        Resource(
            "Microsoft.DevOpsInfrastructure/pools",
            API["pools"],
            name,
            {
                "devCenterProjectResourceId": "[parameters('devCenterProjectResourceId')]",
                "maximumConcurrency": agents.max_agents,
                "organizationProfile": template.variable(
                    "agents-organization",
                    {
                        "kind": "AzureDevOps",
                        "organizations": [
                            {
                                "url": "[parameters('organizationUrl')]",
                                "parallelism": agents.max_agents,
                            }
                        ],
                    },
                ),
                "agentProfile": template.variable("agents-profile", {"kind": "Stateless"}),
                "fabricProfile": template.variable(
                    "agents-fabric",
                    {
                        "kind": "Vmss",
                        "sku": {"name": agents.vm_size},
                        "images": [{"wellKnownImageName": f"{agents.image}/latest"}],
                        "networkProfile": {"subnetId": subnet.id},
                    },
                ),
            },
            depends_on=(vnet,),
        )
    )


def _kubernetes(
    template: Template,
    config: Config,
    name: str,
    workspace: Resource,
    subnet: Resource,
    vnet: Resource,
    logs: Resource,
) -> None:
    """A private AKS cluster shared by the platform's model projects, attached to the workspace."""
    aks = config.compute.kubernetes
    cluster = template.add(
        Resource(
            "Microsoft.ContainerService/managedClusters",
            API["aks"],
            name,
            {
                "dnsPrefix": name,
                "enableRBAC": True,
                "disableLocalAccounts": True,
                "aadProfile": {"managed": True, "enableAzureRBAC": True},
                "apiServerAccessProfile": {"enablePrivateCluster": True},
                "autoUpgradeProfile": {
                    "upgradeChannel": "stable",
                    "nodeOSUpgradeChannel": "NodeImage",
                },
                "networkProfile": {
                    "networkPlugin": "azure",
                    "networkPolicy": "azure",
                    "outboundType": "loadBalancer",
                },
                "addonProfiles": {
                    "kubeDashboard": {"enabled": False},
                    "omsagent": {
                        "enabled": True,
                        "config": {"logAnalyticsWorkspaceResourceID": logs.id},
                    },
                    "azurepolicy": {"enabled": True},
                    "azureKeyvaultSecretsProvider": {
                        "enabled": True,
                        "config": {"enableSecretRotation": "true"},
                    },
                },
                "agentPoolProfiles": [
                    {
                        "name": "system",
                        "mode": "System",
                        "count": 2,
                        "vmSize": aks.system_vm_size,
                        "osDiskType": "Ephemeral",
                        "enableEncryptionAtHost": True,
                        "maxPods": 50,
                        "vnetSubnetID": subnet.id,
                        "nodeTaints": ["CriticalAddonsOnly=true:NoSchedule"],
                    },
                    {
                        "name": "user",
                        "mode": "User",
                        "vmSize": aks.node_vm_size,
                        "enableAutoScaling": True,
                        "minCount": aks.min_nodes,
                        "maxCount": aks.max_nodes,
                        "osDiskType": "Ephemeral",
                        "enableEncryptionAtHost": True,
                        "maxPods": 50,
                        "vnetSubnetID": subnet.id,
                    },
                ],
            },
            sku={"name": "Base", "tier": "Standard"},
            identity={"type": "SystemAssigned"},
            depends_on=(vnet, logs),
            skips=(
                (
                    "CKV_AZURE_6",
                    "private cluster: the API server has no public endpoint, and Azure refuses"
                    " authorized IP ranges on private clusters",
                ),
                (
                    "CKV_AZURE_172",
                    "secret rotation is enabled; the AKS API types addon settings as strings"
                    " ('true') and the check expects a JSON boolean",
                ),
            ),
        )
    )
    extension = template.add(
        Resource(
            "Microsoft.KubernetesConfiguration/extensions",
            API["k8s_extension"],
            "azureml",
            {
                "extensionType": "Microsoft.AzureML.Kubernetes",
                "autoUpgradeMinorVersion": True,
                "releaseTrain": "stable",
                "scope": {"cluster": {"releaseNamespace": "azureml"}},
                "configurationSettings": {
                    "enableInference": "true",
                    "inferenceRouterServiceType": "internalLoadBalancer",
                    "internalLoadBalancerProvider": "azure",
                    "allowInsecureConnections": "false",
                },
            },
            location=None,
            tags=False,
            depends_on=(cluster,),
            scope=f"Microsoft.ContainerService/managedClusters/{name}",
        )
    )
    template.add(
        _compute(
            template,
            f"{workspace.name}/aks",
            {
                "computeType": "Kubernetes",
                "resourceId": cluster.id,
                "properties": {
                    "namespace": "azureml",
                    "defaultInstanceType": "defaultinstancetype",
                },
            },
            (workspace, extension),
        )
    )
