"""Outbound paths of the subnets that run compute or agents, and their NSG rules.

Microsoft: no-public-IP compute has no internet by default and default outbound access is
not recommended; give it a NAT gateway with a public IP, or a user-defined route 0.0.0.0/0 to
a firewall (/azure/machine-learning/how-to-secure-training-vnet, "outbound connectivity";
/azure/machine-learning/how-to-access-azureml-behind-firewall).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from mlops.config.root import Config
from mlops.render.arm import Resource, Template
from mlops.render.infra import rules
from mlops.render.infra._common import API

#: subnets whose machines need outbound access (compute, agents, the jump host)
EGRESS_SUBNETS = ("training", "build_agents", "aks", "jump_hosts")


@dataclass
class Egress:
    """What the subnets with compute or agents attach (`subnet`), and what the network
    depends on (`before`); the firewall itself is added after the network (`after`)."""

    subnet: dict = field(default_factory=dict)
    before: list[Resource] = field(default_factory=list)
    firewall_ip: str | None = None


def short(vnet_name: str) -> str:
    return vnet_name.removeprefix("vnet-")


def public_ip(name: str) -> Resource:
    # Standard static public IP: what NAT gateway, Azure Firewall and Bastion all require
    return Resource(
        "Microsoft.Network/publicIPAddresses",
        API["network"],
        name,
        {"publicIPAllocationMethod": "Static", "publicIPAddressVersion": "IPv4"},
        sku={"name": "Standard", "tier": "Regional"},
    )


def egress_before_network(
    template: Template, config: Config, vnet_name: str, subnets: dict[str, str]
) -> Egress:
    """The NAT gateway, or the route table sending 0.0.0.0/0 to the firewall."""
    egress = config.network.egress
    out = Egress()
    if egress.type == "nat_gateway":
        # /azure/nat-gateway/nat-overview: explicit outbound for a subnet, static public IP
        pip = template.add(public_ip(f"pip-{short(vnet_name)}-nat"))
        nat = template.add(
            Resource(
                "Microsoft.Network/natGateways",
                API["network"],
                f"ng-{short(vnet_name)}",
                {"idleTimeoutInMinutes": 4, "publicIpAddresses": [{"id": pip.id}]},
                sku={"name": "Standard"},
                depends_on=(pip,),
            )
        )
        out.subnet = {"natGateway": {"id": nat.id}}
        out.before.append(nat)
        return out
    if egress.type == "firewall":
        # Azure takes the first four addresses of every subnet for itself
        # (/azure/virtual-network/virtual-networks-faq, "reserved IP addresses"); the
        # firewall gets the next one [inference; the template's output firewallPrivateIp
        # shows the address Azure gave it]
        firewall_subnet = ipaddress.IPv4Network(subnets["firewall"])
        out.firewall_ip = egress.firewall_private_ip or str(firewall_subnet.network_address + 4)
    else:
        out.firewall_ip = egress.firewall_private_ip
    # /azure/aks/egress-udr, /azure/machine-learning/how-to-access-azureml-behind-firewall:
    # 0.0.0.0/0 to the firewall's private IP (next hop Internet is refused for AKS)
    routes = template.add(
        Resource(
            "Microsoft.Network/routeTables",
            API["network"],
            f"rt-{short(vnet_name)}",
            {
                "disableBgpRoutePropagation": False,
                "routes": [
                    {
                        "name": "default-to-firewall",
                        "properties": {
                            "addressPrefix": "0.0.0.0/0",
                            "nextHopType": "VirtualAppliance",
                            "nextHopIpAddress": out.firewall_ip,
                        },
                    }
                ],
            },
        )
    )
    out.subnet = {"routeTable": {"id": routes.id}}
    out.before.append(routes)
    return out


def firewall(
    template: Template,
    config: Config,
    vnet_name: str,
    vnet: Resource,
    subnets: dict[str, str],
    firewall_subnet: Resource,
) -> Resource:
    """An Azure Firewall whose policy allows only what Microsoft lists, per source subnet.

    FQDNs on 80/443 are application rules, other ports network rules
    (/azure/machine-learning/how-to-access-azureml-behind-firewall, "Azure Firewall")."""
    sku = config.network.egress.firewall_sku
    name = short(vnet_name)
    pip = template.add(public_ip(f"pip-{name}-fw"))
    policy_properties: dict = {
        "sku": {"tier": sku},
        "threatIntelMode": "Deny",
    }
    if sku == "Premium":
        policy_properties["intrusionDetection"] = {"mode": "Deny"}
    policy = template.add(
        Resource(
            "Microsoft.Network/firewallPolicies",
            API["network"],
            f"afwp-{name}",
            policy_properties,
        )
    )
    group = template.add(
        Resource(
            "Microsoft.Network/firewallPolicies/ruleCollectionGroups",
            API["network"],
            f"afwp-{name}/mlops",
            {"priority": 200, "ruleCollections": _rule_collections(template, config, subnets)},
            location=None,
            tags=False,
            depends_on=(policy,),
        )
    )
    return template.add(
        Resource(
            "Microsoft.Network/azureFirewalls",
            API["network"],
            f"afw-{name}",
            {
                "sku": {"name": "AZFW_VNet", "tier": sku},
                "firewallPolicy": {"id": policy.id},
                "ipConfigurations": [
                    {
                        "name": "ipconfig",
                        "properties": {
                            "subnet": {"id": firewall_subnet.id},
                            "publicIPAddress": {"id": pip.id},
                        },
                    }
                ],
            },
            depends_on=(vnet, pip, policy, group),
            skips=(
                (
                    "CKV_AZURE_216",
                    "threat intelligence is Deny in the attached firewall policy; the"
                    " firewall's own threatIntelMode applies only to classic rules, not to"
                    " firewalls managed by a policy (Azure/PSRule.Rules.Azure#1365)",
                ),
            ),
        )
    )


def _rule_collections(template: Template, config: Config, subnets: dict[str, str]) -> str:
    """Network rules (service tags, any port) then application rules (FQDNs), by source."""
    sources = {k: [subnets[k]] for k in EGRESS_SUBNETS if k in subnets}
    compute = sources.get("training", []) + sources.get("jump_hosts", [])
    network_rules, app_rules = [], []
    if compute:
        network_rules += [_network_rule(r, compute) for r in rules.TRAINING_TAGS]
        app_rules += [_app_rule(r, compute) for r in rules.TRAINING_FQDNS]
    if "aks" in sources:
        app_rules += [_app_rule(r, sources["aks"], "aks-") for r in rules.AKS_FQDNS]
    app_rules += [_app_rule(r, sources["build_agents"], "agents-") for r in rules.AGENT_FQDNS]
    if config.network.egress.package_indexes:
        every = compute + sources.get("aks", [])
        if every:
            app_rules += [_app_rule(r, every) for r in rules.PACKAGE_FQDNS]
    collections = []
    if network_rules:
        collections.append(_collection("azure-ml-service-tags", 100, network_rules))
    collections.append(_collection("azure-ml-and-agents-fqdns", 200, app_rules))
    return template.variable("firewall-rule-collections", collections)


def _collection(name: str, priority: int, rules_: list[dict]) -> dict:
    return {
        "ruleCollectionType": "FirewallPolicyFilterRuleCollection",
        "name": name,
        "priority": priority,
        "action": {"type": "Allow"},
        "rules": rules_,
    }


def _network_rule(rule: rules.TagRule, sources: list[str]) -> dict:
    protocol = {"Tcp": "TCP", "Udp": "UDP", "*": "Any"}[rule.protocol]
    return {
        "ruleType": "NetworkRule",
        "name": rule.name,
        "description": rule.source,
        "ipProtocols": [protocol],
        "sourceAddresses": sources,
        "destinationAddresses": [rules.region(rule.tag)],
        "destinationPorts": list(rule.ports),
    }


def _app_rule(rule: rules.FqdnRule, sources: list[str], prefix: str = "") -> dict:
    protocols = [{"protocolType": "Https", "port": 443}]
    if rule.http:
        protocols.insert(0, {"protocolType": "Http", "port": 80})
    return {
        "ruleType": "ApplicationRule",
        "name": prefix + rule.name,
        "description": rule.source,
        "protocols": protocols,
        "sourceAddresses": sources,
        "targetFqdns": [rules.region(f) for f in rule.fqdns],
    }


def security_rules(key: str, subnets: dict[str, str]) -> list[dict]:
    """NSG rules of subnet `key`: the service tags no-public-IP Azure ML compute needs
    outbound (rules.TRAINING_TAGS), and SSH into the jump host only from Bastion."""
    out: list[dict] = []
    if key == "training":
        for priority, rule in enumerate(rules.TRAINING_TAGS, start=100):
            out.append(
                {
                    "name": f"allow-out-{rule.name}",
                    "properties": {
                        "description": rule.source,
                        "direction": "Outbound",
                        "access": "Allow",
                        "priority": priority,
                        "protocol": rule.protocol,
                        "sourceAddressPrefix": "VirtualNetwork",
                        "sourcePortRange": "*",
                        "destinationAddressPrefix": rules.region(rule.tag),
                        "destinationPortRanges": list(rule.ports),
                    },
                }
            )
    if key == "jump_hosts" and "bastion" in subnets:
        out.append(
            {
                "name": "allow-in-ssh-from-bastion",
                "properties": {
                    "description": rules.BAS,
                    "direction": "Inbound",
                    "access": "Allow",
                    "priority": 100,
                    "protocol": "Tcp",
                    "sourceAddressPrefix": subnets["bastion"],
                    "sourcePortRange": "*",
                    "destinationAddressPrefix": subnets["jump_hosts"],
                    "destinationPortRange": "22",
                },
            }
        )
    return out
