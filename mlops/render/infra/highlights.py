"""The properties of a rendered resource that matter for security and cost, for plans that
list resources as creates (offline, or a resource group that does not exist yet): public
access, isolation, SKU, network rules, local auth."""

from __future__ import annotations

from typing import Any

from mlops.render.arm import Resource, Template

#: dotted paths under `properties` (or top-level `sku.*`), in the order a reviewer reads them
PATHS = (
    "sku.name",
    "sku.tier",
    "publicNetworkAccess",
    "managedNetwork.isolationMode",
    "networkAcls.defaultAction",
    "networkAcls.bypass",
    "allowBlobPublicAccess",
    "allowSharedKeyAccess",
    "minimumTlsVersion",
    "adminUserEnabled",
    "anonymousPullEnabled",
    "policies.quarantinePolicy.status",
    "enableRbacAuthorization",
    "enablePurgeProtection",
    "imageBuildCompute",
    "systemDatastoresAuthMode",
    "disableLocalAuth",
    "DisableLocalAuth",
    "properties.enableNodePublicIp",
    "properties.remoteLoginPortPublicAccess",
    "properties.scaleSettings.minNodeCount",
    "properties.vmSize",
    "disableLocalAccounts",
    "apiServerAccessProfile.enablePrivateCluster",
    "networkProfile.outboundType",
    "configurationSettings.allowInsecureConnections",
    "configurationSettings.sslCname",
    "configurationSettings.inferenceRouterServiceType",
    "configurationSettings.internalLoadBalancerProvider",
    "threatIntelMode",
    "intrusionDetection.mode",
    "enableTunneling",
    "remoteVirtualNetwork.id",
    "useRemoteGateways",
    "hardwareProfile.vmSize",
    "osProfile.linuxConfiguration.disablePasswordAuthentication",
    "vpnClientConfiguration.vpnClientProtocols",
    "vpnClientConfiguration.vpnAuthenticationTypes",
    "vpnClientConfiguration.vpnClientAddressPool.addressPrefixes",
    "policyDefinitionId",
    "enforcementMode",
    "parameters.logAnalytics.value",
    "roleDefinitionId",
    "principalType",
)


def highlights(template: Template, resource: Resource) -> list[tuple[str, Any]]:
    """(path, value) for each PATHS entry the resource sets, plus its NSG rule and subnet
    egress summaries; a properties object stored as a template variable is read through."""
    properties = _resolve(template, resource.properties)
    document = {"sku": resource.sku or {}, **(properties if isinstance(properties, dict) else {})}
    out = []
    for path in PATHS:
        value = _get(template, document, path)
        if value is not None:
            out.append((path, _resolve(template, value)))
    if isinstance(properties, dict):
        rules = properties.get("securityRules")
        if isinstance(rules, list):
            out.append(("securityRules", [r["name"] for r in rules]))
        for route in properties.get("routes", []):
            hop = route["properties"]
            out.append(
                (
                    f"routes.{route['name']}",
                    f"{hop['addressPrefix']} -> {hop['nextHopType']}"
                    f" {hop.get('nextHopIpAddress', '')}".rstrip(),
                )
            )
        for subnet in properties.get("subnets", []):
            sub = subnet["properties"]
            if "natGateway" in sub:
                egress = "NAT gateway"
            elif "routeTable" in sub:
                egress = "route table"
            elif sub.get("defaultOutboundAccess") is False:
                egress = "none"
            else:
                egress = "Azure-managed"
            out.append((f"subnets.{subnet['name']}", f"{sub['addressPrefix']}, outbound: {egress}"))
    return out


def _resolve(template: Template, value: Any) -> Any:
    if isinstance(value, str) and value.startswith("[variables('") and value.endswith("')]"):
        return template.variables.get(value[len("[variables('") : -len("')]")], value)
    return value


def _get(template: Template, document: dict, path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        node = _resolve(template, node)
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
