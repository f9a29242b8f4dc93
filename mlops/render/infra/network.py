"""The environment's virtual network: subnets, NSGs, private DNS zones and private endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mlops.config.platform import PRIVATE_DNS_ZONES
from mlops.config.root import Config
from mlops.render.arm import SCHEMA, Resource, Template
from mlops.render.infra._common import API
from mlops.render.infra.egress import (
    EGRESS_SUBNETS,
    egress_before_network,
    firewall,
    security_rules,
)

ZONE_WORKSPACE = ("privatelink.api.azureml.ms", "privatelink.notebooks.azure.net")


@dataclass(frozen=True)
class Endpoint:
    """A private endpoint: what it connects to, the sub-resource and its DNS zones."""

    suffix: str
    target: str  # id expression (without brackets) of the resource it connects
    group: str
    zones: tuple[str, ...]
    depends_on: tuple[Resource, ...] = ()


def subnet_plan(config: Config, env: str) -> dict[str, str]:
    """Subnet name to address range: only the subnets this configuration uses."""
    net = config.network
    subnets = net.environment_addresses(list(config.environments.azure))[env].subnets
    keys = ["private_endpoints", "build_agents"]
    if net.mode == "vnet":
        keys.append("training")
    if config.deployment.target == "kubernetes":
        keys.append("aks")
    if net.egress.type == "firewall":
        keys.append("firewall")
    if net.access.bastion is not None:
        keys.append("bastion")
        if net.access.bastion.jump_host is not None:
            keys.append("jump_hosts")
    if net.access.vpn is not None:
        keys += ["gateway", "dns_resolver"]
    return {k: subnets[k] for k in keys}


SUBNET_NAMES = {
    "private_endpoints": "snet-private-endpoints",
    "build_agents": "snet-build-agents",
    "training": "snet-training",
    "aks": "snet-aks",
    # names Azure requires (/azure/firewall/firewall-faq; /azure/bastion/configuration-settings)
    "firewall": "AzureFirewallSubnet",
    "bastion": "AzureBastionSubnet",
    "jump_hosts": "snet-jump-hosts",
    # /azure/vpn-gateway/vpn-gateway-about-vpn-gateway-settings ("Gateway subnet")
    "gateway": "GatewaySubnet",
    "dns_resolver": "snet-dns-resolver",
}
#: Azure-managed subnets: no NSG of ours, no route or NAT (the firewall is the egress);
#: "network security groups on the gateway subnet aren't supported" (the page above)
PLATFORM_SUBNETS = ("firewall", "bastion", "gateway")
#: subnet -> the service it is delegated to: Managed DevOps Pools
#: (/azure/devops/managed-devops-pools/configure-networking) and the resolver's inbound
#: endpoint (/azure/dns/dns-private-resolver-overview, "Subnet restrictions")
DELEGATIONS = {
    "build_agents": ("managed-devops-pools", "Microsoft.DevOpsInfrastructure/pools"),
    "dns_resolver": ("dns-resolver", "Microsoft.Network/dnsResolvers"),
}


def virtual_network(
    template: Template, config: Config, env: str, vnet_name: str
) -> tuple[Resource, dict[str, Resource]]:
    """The virtual network with its subnets inline (so a re-deploy never drops a subnet),
    each subnet with compute or agents given its outbound path (egress.py)."""
    plan = subnet_plan(config, env)
    egress = egress_before_network(template, config, vnet_name, plan)
    nsgs = {}
    for key in plan:
        if key in PLATFORM_SUBNETS:
            continue
        nsgs[key] = template.add(
            Resource(
                "Microsoft.Network/networkSecurityGroups",
                API["network"],
                f"nsg-{vnet_name.removeprefix('vnet-')}-{SUBNET_NAMES[key].removeprefix('snet-')}",
                {"securityRules": security_rules(key, plan)},
            )
        )
    subnets_arm = []
    refs = {}
    for key, prefix in plan.items():
        name = SUBNET_NAMES[key]
        properties: dict = {"addressPrefix": prefix}
        if key not in PLATFORM_SUBNETS:
            properties |= {
                "networkSecurityGroup": {"id": nsgs[key].id},
                "privateEndpointNetworkPolicies": "Enabled",
                "defaultOutboundAccess": False,
            }
        if key in EGRESS_SUBNETS:
            properties |= egress.subnet
        if key in DELEGATIONS:
            delegation, service = DELEGATIONS[key]
            properties["delegations"] = [
                {"name": delegation, "properties": {"serviceName": service}}
            ]
        subnets_arm.append({"name": name, "properties": properties})
        refs[key] = Resource(
            "Microsoft.Network/virtualNetworks/subnets", API["network"], f"{vnet_name}/{name}"
        )
    addresses = config.network.environment_addresses(list(config.environments.azure))[env]
    properties = {
        "addressSpace": {"addressPrefixes": addresses.address_space},
        "subnets": subnets_arm,
    }
    vnet = template.add(
        Resource(
            "Microsoft.Network/virtualNetworks",
            API["network"],
            vnet_name,
            properties,
            depends_on=(*nsgs.values(), *egress.before),
        )
    )
    if "firewall" in plan:
        firewall(template, config, vnet_name, vnet, plan, refs["firewall"])
    return vnet, refs


def private_dns_zones(template: Template, config: Config, vnet: Resource) -> dict[str, str]:
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


def private_endpoint(
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


def hub_zone_links(template: Template, config: Config, vnet: Resource) -> None:
    """Link the existing (hub) zones to this environment's network, one nested deployment
    per zone resource group: "link the same zones to all hub and spoke virtual networks
    that contain clients" (/azure/private-link/private-endpoint-dns-integration)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for zone, zone_id in config.network.private_dns_zones.existing.items():
        parts = zone_id.split("/")
        groups.setdefault((parts[2], parts[4]), []).append(zone)
    for (subscription, group), zones in sorted(groups.items()):
        links = [
            {
                "type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
                "apiVersion": API["dns"],
                "name": f"{zone}/{vnet.name}",
                "location": "global",
                "properties": {"registrationEnabled": False, "virtualNetwork": {"id": vnet.id}},
            }
            for zone in sorted(zones)
        ]
        template.add(
            Resource(
                "Microsoft.Resources/deployments",
                API["deployments"],
                f"dns-links-{vnet.name.removeprefix('vnet-')}-{group}"[:64],
                {
                    "mode": "Incremental",
                    # outer scope: vnet.id resolves in this template's resource group
                    "expressionEvaluationOptions": {"scope": "Outer"},
                    "template": {
                        "$schema": SCHEMA,
                        "contentVersion": "1.0.0.0",
                        "resources": links,
                    },
                },
                location=None,
                tags=False,
                depends_on=(vnet,),
                subscription_id=subscription,
                resource_group=group,
            )
        )


def hub_peering(template: Template, config: Config, vnet: Resource) -> None:
    """This side of the peering with the hub; the hub's owner adds the other side
    (/azure/virtual-network/virtual-network-peering-overview). Forwarded traffic is allowed
    so the hub's firewall or gateway can carry it."""
    hub = config.network.access.hub
    if hub is None:
        return
    template.add(
        Resource(
            "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
            API["network"],
            f"{vnet.name}/peer-hub",
            {
                "remoteVirtualNetwork": {"id": hub.virtual_network_id},
                "allowVirtualNetworkAccess": True,
                "allowForwardedTraffic": True,
                "allowGatewayTransit": False,
                "useRemoteGateways": hub.use_remote_gateways,
            },
            location=None,
            tags=False,
            depends_on=(vnet,),
        )
    )
