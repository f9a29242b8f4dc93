"""A way in for people: Azure Bastion with a jump host, or a point-to-site VPN gateway with a
DNS Private Resolver (peering with a hub is in network.py).

Microsoft's options for reaching a private workspace: a VPN gateway, ExpressRoute, or Azure
Bastion with a jump box in the network (/azure/machine-learning/how-to-secure-workspace-vnet,
"Securely connect to your workspace").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlops.config.root import Config
from mlops.render.arm import Resource, Template
from mlops.render.infra._common import API
from mlops.render.infra.egress import public_ip, short

API_DNS_RESOLVER = "2025-05-01"  # Microsoft.Network/dnsResolvers in the ARM schemas
#: Audience of the Microsoft-registered Azure VPN Client app (Azure Public), for Microsoft
#: Entra ID authentication (/azure/vpn-gateway/point-to-site-entra-gateway, "Audience values")
VPN_AUDIENCE = "c632b3df-fb67-4d84-bdcf-b95ad541b5c8"


@dataclass(frozen=True)
class ZonedResource(Resource):
    """A resource with availability `zones` (a top-level ARM property Resource lacks)."""

    zones: tuple[str, ...] = ()

    def to_arm(self, tags: dict[str, str]) -> dict[str, Any]:
        out = super().to_arm(tags)
        if self.zones:
            out["zones"] = list(self.zones)
        return out


def vpn_gateway(
    template: Template,
    config: Config,
    env: str,
    vnet: Resource,
    subnets: dict[str, Resource],
) -> None:
    """A route-based VPN gateway in GatewaySubnet for point-to-site connections with Microsoft
    Entra ID authentication: OpenVPN only, tenant, issuer and the Microsoft-registered
    audience (/azure/vpn-gateway/point-to-site-entra-gateway). An AZ SKU with a
    zone-redundant Standard public IP (/azure/vpn-gateway/about-zone-redundant-vnet-gateways).
    Clients resolve private endpoint names through the DNS Private Resolver below."""
    vpn = config.network.access.vpn
    if vpn is None:
        return
    name = short(vnet.name)
    plain = public_ip(f"pip-{name}-vpn")
    pip = template.add(
        ZonedResource(
            plain.type,
            plain.api_version,
            plain.name,
            plain.properties,
            sku=plain.sku,
            zones=("1", "2", "3"),
        )
    )
    pool = vpn.pools(list(config.environments.azure))[env]
    tenant = "subscription().tenantId"
    template.add(
        Resource(
            "Microsoft.Network/virtualNetworkGateways",
            API["network"],
            f"vpng-{name}",
            {
                "gatewayType": "Vpn",
                "vpnType": "RouteBased",
                # VpnGw1(AZ) exists in Generation1 only, VpnGw4/5(AZ) in Generation2 only
                # (/azure/vpn-gateway/about-gateway-skus, "Gateway SKUs by tunnel, connection,
                # and throughput")
                "vpnGatewayGeneration": "Generation1" if vpn.sku == "VpnGw1AZ" else "Generation2",
                "sku": {"name": vpn.sku, "tier": vpn.sku},
                "activeActive": False,
                "enableBgp": False,
                "ipConfigurations": [
                    {
                        "name": "default",
                        "properties": {
                            "privateIPAllocationMethod": "Dynamic",
                            "subnet": {"id": subnets["gateway"].id},
                            "publicIPAddress": {"id": pip.id},
                        },
                    }
                ],
                "vpnClientConfiguration": {
                    "vpnClientAddressPool": {"addressPrefixes": [pool]},
                    "vpnClientProtocols": ["OpenVPN"],
                    "vpnAuthenticationTypes": ["AAD"],
                    "aadTenant": f"[format('https://login.microsoftonline.com/{{0}}/', {tenant})]",
                    "aadAudience": VPN_AUDIENCE,
                    "aadIssuer": f"[format('https://sts.windows.net/{{0}}/', {tenant})]",
                },
            },
            depends_on=(vnet, pip),
        )
    )
    _dns_resolver(template, name, vnet, subnets["dns_resolver"])


def _dns_resolver(template: Template, name: str, vnet: Resource, subnet: Resource) -> None:
    """A DNS Private Resolver with an inbound endpoint: VPN clients send their queries to its
    address, which resolves with the zones linked to this network, private endpoints
    included (/azure/dns/private-resolver-endpoints-rulesets, "Inbound endpoints"; the VPN
    client takes it as a custom DNS server: /azure/vpn-gateway/
    azure-vpn-client-optional-configurations). The address is the `dnsResolverInboundIp`
    output."""
    resolver = template.add(
        Resource(
            "Microsoft.Network/dnsResolvers",
            API_DNS_RESOLVER,
            f"dnspr-{name}",
            {"virtualNetwork": {"id": vnet.id}},
            depends_on=(vnet,),
        )
    )
    inbound = template.add(
        Resource(
            "Microsoft.Network/dnsResolvers/inboundEndpoints",
            API_DNS_RESOLVER,
            f"dnspr-{name}/inbound",
            {
                "ipConfigurations": [
                    {"subnet": {"id": subnet.id}, "privateIpAllocationMethod": "Dynamic"}
                ]
            },
            depends_on=(resolver,),
        )
    )
    template.outputs["dnsResolverInboundIp"] = {
        "type": "string",
        "value": f"[reference({inbound.id_ref}).ipConfigurations[0].privateIpAddress]",
    }


def bastion(
    template: Template, config: Config, vnet: Resource, subnets: dict[str, Resource]
) -> None:
    """Bastion in AzureBastionSubnet (/26 or larger) with a Standard static public IP
    (/azure/bastion/configuration-settings); Standard SKU for native-client SSH (tunneling)."""
    settings = config.network.access.bastion
    if settings is None:
        return
    name = short(vnet.name)
    pip = template.add(public_ip(f"pip-{name}-bastion"))
    properties: dict = {
        "ipConfigurations": [
            {
                "name": "ipconfig",
                "properties": {
                    "subnet": {"id": subnets["bastion"].id},
                    "publicIPAddress": {"id": pip.id},
                },
            }
        ]
    }
    if settings.sku == "Standard":
        properties["enableTunneling"] = True
    template.add(
        Resource(
            "Microsoft.Network/bastionHosts",
            API["network"],
            f"bas-{name}",
            properties,
            sku={"name": settings.sku},
            depends_on=(vnet, pip),
        )
    )
    if settings.jump_host is not None:
        _jump_host(template, config, name, vnet, subnets["jump_hosts"])


def _jump_host(
    template: Template, config: Config, name: str, vnet: Resource, subnet: Resource
) -> None:
    """A Linux VM without public IP: SSH keys only, encrypted at host, trusted launch."""
    host = config.network.access.bastion.jump_host  # type: ignore[union-attr]
    nic = template.add(
        Resource(
            "Microsoft.Network/networkInterfaces",
            API["network"],
            f"nic-{name}-jump",
            {
                "ipConfigurations": [
                    {
                        "name": "ipconfig",
                        "properties": {
                            "subnet": {"id": subnet.id},
                            "privateIPAllocationMethod": "Dynamic",
                        },
                    }
                ]
            },
            depends_on=(vnet,),
        )
    )
    template.add(
        Resource(
            "Microsoft.Compute/virtualMachines",
            API["compute"],
            f"vm-{name}-jump",
            {
                "hardwareProfile": {"vmSize": host.vm_size},
                "securityProfile": {
                    "encryptionAtHost": True,
                    "securityType": "TrustedLaunch",
                    "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True},
                },
                "storageProfile": {
                    "imageReference": {
                        "publisher": "Canonical",
                        "offer": "ubuntu-24_04-lts",
                        "sku": "server",
                        "version": "latest",
                    },
                    "osDisk": {
                        "createOption": "FromImage",
                        "deleteOption": "Delete",
                        "managedDisk": {"storageAccountType": "StandardSSD_LRS"},
                    },
                },
                "osProfile": {
                    "computerName": "jump",
                    "adminUsername": host.admin_username,
                    "allowExtensionOperations": False,
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": True,
                        "ssh": {
                            "publicKeys": [
                                {
                                    "path": f"/home/{host.admin_username}/.ssh/authorized_keys",
                                    "keyData": host.ssh_public_key,
                                }
                            ]
                        },
                        "patchSettings": {
                            "patchMode": "AutomaticByPlatform",
                            "assessmentMode": "AutomaticByPlatform",
                        },
                    },
                },
                "networkProfile": {
                    "networkInterfaces": [{"id": nic.id, "properties": {"deleteOption": "Delete"}}]
                },
                "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
            },
            identity={"type": "SystemAssigned"},
            depends_on=(nic,),
        )
    )
