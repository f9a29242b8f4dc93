"""Egress: every subnet with compute or agents has an explicit outbound path, and the rules
that allow it are the ones Microsoft lists, each citing its source."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from mlops.render.infra import rules
from tests.infra.conftest import CONFIGS
from tests.infra.network_helpers import (
    COMPUTE_OR_AGENT_SUBNETS,
    by_id,
    one,
    resources,
    subnets,
    templates,
)

CONFIG_FILES = sorted(CONFIGS.glob("*.yaml"))


@pytest.mark.parametrize("config", CONFIG_FILES, ids=lambda p: p.stem)
def test_every_subnet_with_compute_or_agents_has_an_explicit_outbound_path(config: Path) -> None:
    for env, template in templates(config).items():
        if env == "shared":
            continue
        found = {k: v for k, v in subnets(template).items() if k in COMPUTE_OR_AGENT_SUBNETS}
        assert "snet-build-agents" in found
        for name, subnet in found.items():
            # Azure's implicit default outbound access is off: the path below is the only one
            assert subnet["defaultOutboundAccess"] is False, (env, name)
            if "natGateway" in subnet:
                nat = by_id(template, subnet["natGateway"]["id"])
                (pip,) = nat["properties"]["publicIpAddresses"]
                assert by_id(template, pip["id"])["sku"]["name"] == "Standard"
            else:
                table = by_id(template, subnet["routeTable"]["id"])
                (route,) = table["properties"]["routes"]
                assert route["properties"]["addressPrefix"] == "0.0.0.0/0"
                assert route["properties"]["nextHopType"] == "VirtualAppliance"
                ipaddress.IPv4Address(route["properties"]["nextHopIpAddress"])


def test_nat_gateway_is_the_default_egress() -> None:
    dev = templates(CONFIGS / "kubernetes.yaml")["dev"]
    assert one(dev, "Microsoft.Network/natGateways")["sku"] == {"name": "Standard"}
    assert not resources(dev, "Microsoft.Network/azureFirewalls")
    assert all("natGateway" in s for n, s in subnets(dev).items() if n in COMPUTE_OR_AGENT_SUBNETS)


def test_firewall_egress_routes_through_a_firewall_that_allows_only_listed_destinations() -> None:
    dev = templates(CONFIGS / "vnet.yaml")["dev"]
    firewall_subnet = subnets(dev)["AzureFirewallSubnet"]
    assert ipaddress.IPv4Network(firewall_subnet["addressPrefix"]).prefixlen <= 26
    firewall = one(dev, "Microsoft.Network/azureFirewalls")
    policy = one(dev, "Microsoft.Network/firewallPolicies")
    assert policy["properties"]["threatIntelMode"] == "Deny"
    assert firewall["properties"]["firewallPolicy"]["id"].endswith(f"'{policy['name']}')]")
    route = one(dev, "Microsoft.Network/routeTables")["properties"]["routes"][0]
    next_hop = ipaddress.IPv4Address(route["properties"]["nextHopIpAddress"])
    assert next_hop in ipaddress.IPv4Network(firewall_subnet["addressPrefix"])
    # derived, not read back (that would be a dependency cycle): the output shows Azure's
    assert "privateIPAddress" in dev["outputs"]["firewallPrivateIp"]["value"]

    collections = dev["variables"]["firewall-rule-collections"]
    rules_ = [rule for c in collections for rule in c["rules"]]
    assert {c["action"]["type"] for c in collections} == {"Allow"}
    training = subnets(dev)["snet-training"]["addressPrefix"]
    agents = subnets(dev)["snet-build-agents"]["addressPrefix"]
    tags = {
        r["destinationAddresses"][0]
        for r in rules_
        if r["ruleType"] == "NetworkRule" and training in r["sourceAddresses"]
    }
    assert "AzureMachineLearning" in tags
    assert "[format('BatchNodeManagement.{0}', parameters('location'))]" in tags
    agent_fqdns = {
        fqdn
        for r in rules_
        if r["ruleType"] == "ApplicationRule" and r["sourceAddresses"] == [agents]
        for fqdn in r["targetFqdns"]
    }
    assert {"dev.azure.com", "*.prod.manageddevops.microsoft.com"} <= agent_fqdns
    # nothing is allowed to everywhere
    assert all("*" not in r.get("destinationAddresses", []) for r in rules_)
    assert all(r["description"].startswith("/azure/") for r in rules_)


def test_hub_firewall_egress_routes_to_the_hubs_firewall_ip() -> None:
    dev = templates(CONFIGS / "managed.yaml")["dev"]
    route = one(dev, "Microsoft.Network/routeTables")["properties"]["routes"][0]
    assert route["properties"]["nextHopIpAddress"] == "10.100.0.4"
    assert not resources(dev, "Microsoft.Network/azureFirewalls")


def test_the_training_subnets_nsg_allows_the_service_tags_microsoft_requires() -> None:
    dev = templates(CONFIGS / "vnet.yaml")["dev"]
    nsg = by_id(dev, subnets(dev)["snet-training"]["networkSecurityGroup"]["id"])
    outbound = {
        r["properties"]["destinationAddressPrefix"]: r["properties"]
        for r in nsg["properties"]["securityRules"]
        if r["properties"]["direction"] == "Outbound"
    }
    region = "[format('{0}.{{0}}', parameters('location'))]"
    required = [
        "AzureActiveDirectory",
        "AzureMachineLearning",
        region.format("BatchNodeManagement"),
        "AzureResourceManager",
        region.format("Storage"),
        "AzureFrontDoor.FirstParty",
    ]
    for tag in required:
        assert outbound[tag]["access"] == "Allow", tag
        assert outbound[tag]["description"].startswith("/azure/"), tag
    assert "443" in outbound[region.format("BatchNodeManagement")]["destinationPortRanges"]
    udp = [r for r in nsg["properties"]["securityRules"] if r["properties"]["protocol"] == "Udp"]
    assert [r["properties"]["destinationPortRanges"] for r in udp] == [["5831"]]
    # no inbound rule: compute without public IP needs none
    assert all(
        r["properties"]["direction"] == "Outbound" for r in nsg["properties"]["securityRules"]
    )


def test_every_rule_in_the_data_names_its_microsoft_source() -> None:
    every = [
        *rules.TRAINING_TAGS,
        *rules.TRAINING_FQDNS,
        *rules.PACKAGE_FQDNS,
        *rules.AKS_FQDNS,
        *rules.AGENT_FQDNS,
    ]
    for rule in every:
        assert rule.source.startswith("/azure/"), rule
    names = [r.name for r in every]
    assert len(names) == len(set(names))
