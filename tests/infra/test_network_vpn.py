"""A point-to-site VPN as a way in, with names resolved through a DNS Private Resolver, and
virtual network flow logs under each region's Network Watcher."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.infra.conftest import CONFIGS, copy_config
from tests.infra.network_helpers import by_id, one, resources, subnets, templates

GATEWAY = "Microsoft.Network/virtualNetworkGateways"
TENANT = "subscription().tenantId"


def test_each_environment_gets_a_vpn_gateway_signed_in_with_entra_id() -> None:
    pools = []
    for env, template in templates(CONFIGS / "vnet.yaml").items():
        if env == "shared":
            continue
        gateway = one(template, GATEWAY)
        props = gateway["properties"]
        assert (props["gatewayType"], props["vpnType"]) == ("Vpn", "RouteBased")
        assert props["sku"] == {"name": "VpnGw1AZ", "tier": "VpnGw1AZ"}
        (ip,) = props["ipConfigurations"]
        subnet = ip["properties"]["subnet"]["id"]
        assert subnet.endswith("'GatewaySubnet')]")
        pip = by_id(template, ip["properties"]["publicIPAddress"]["id"])
        assert pip["sku"]["name"] == "Standard"
        assert pip["zones"] == ["1", "2", "3"]  # an AZ SKU needs a zone-redundant IP
        client = props["vpnClientConfiguration"]
        assert client["vpnClientProtocols"] == ["OpenVPN"]  # Entra ID needs OpenVPN
        assert client["vpnAuthenticationTypes"] == ["AAD"]
        assert client["aadAudience"] == "c632b3df-fb67-4d84-bdcf-b95ad541b5c8"
        assert (
            client["aadTenant"] == f"[format('https://login.microsoftonline.com/{{0}}/', {TENANT})]"
        )
        assert client["aadIssuer"] == f"[format('https://sts.windows.net/{{0}}/', {TENANT})]"
        pools.append(ipaddress.IPv4Network(client["vpnClientAddressPool"]["addressPrefixes"][0]))
        # the gateway subnet carries no NSG and no route: Azure supports neither there
        gw = subnets(template)["GatewaySubnet"]
        assert "networkSecurityGroup" not in gw and "routeTable" not in gw
    # clients of different environments never share addresses
    assert [str(p) for p in pools] == ["172.16.0.0/24", "172.16.1.0/24", "172.16.2.0/24"]


def test_vpn_clients_resolve_private_endpoints_through_an_inbound_resolver_endpoint() -> None:
    template = templates(CONFIGS / "vnet.yaml")["dev"]
    vnet = one(template, "Microsoft.Network/virtualNetworks")
    resolver = one(template, "Microsoft.Network/dnsResolvers")
    assert resolver["properties"]["virtualNetwork"]["id"] == (
        f"[resourceId('Microsoft.Network/virtualNetworks', '{vnet['name']}')]"
    )
    inbound = one(template, "Microsoft.Network/dnsResolvers/inboundEndpoints")
    (config,) = inbound["properties"]["ipConfigurations"]
    assert config["subnet"]["id"].endswith("'snet-dns-resolver')]")
    dns_subnet = subnets(template)["snet-dns-resolver"]
    assert dns_subnet["delegations"][0]["properties"]["serviceName"] == (
        "Microsoft.Network/dnsResolvers"
    )
    assert ipaddress.IPv4Network(dns_subnet["addressPrefix"]).prefixlen <= 28
    # the address to give VPN clients as their DNS server
    assert "privateIpAddress" in template["outputs"]["dnsResolverInboundIp"]["value"]


@pytest.mark.parametrize(
    ("edit", "field", "says"),
    [
        (
            (
                "vpn: {client_address_pool: 172.16.0.0/24}",
                "vpn: {client_address_pool: 10.41.0.0/24}",
            ),
            "network.access.vpn.client_address_pool",
            "overlaps environment test",
        ),
        (
            (
                "address_space: [10.0.0.0/16]\n",
                "address_space: [10.0.0.0/16]\n      use_remote_gateways: true\n",
            ),
            "network.access.hub.use_remote_gateways",
            "has its own gateway",
        ),
        (
            ("      westeurope:\n", "      uksouth:\n"),
            "network.flow_logs.regions",
            "environment prod is in westeurope",
        ),
    ],
)
def test_vpn_and_flow_log_settings_that_cannot_work_exit_2_naming_the_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    edit: tuple[str, str],
    field: str,
    says: str,
) -> None:
    path = copy_config("vnet", tmp_path)
    text = path.read_text()
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1]))
    monkeypatch.chdir(tmp_path)

    result = run_cli("render")

    assert result.exit_code == 2
    assert field in result.stderr and says in result.stderr
    assert not (tmp_path / "infra").exists()  # nothing written


def test_each_network_has_a_flow_log_under_its_regions_network_watcher() -> None:
    for env, template in templates(CONFIGS / "vnet.yaml").items():
        if env == "shared":
            continue
        vnet = one(template, "Microsoft.Network/virtualNetworks")
        (nested,) = [
            d
            for d in resources(template, "Microsoft.Resources/deployments")
            if d["name"].startswith("flow-log-")
        ]
        region = "westeurope" if env == "prod" else "northeurope"
        # deployed into the watcher's resource group: one watcher per region, not creatable
        assert (nested["subscriptionId"], nested["resourceGroup"]) == (
            "22222222-2222-2222-2222-222222222222",
            "NetworkWatcherRG",
        )
        assert nested["properties"]["expressionEvaluationOptions"] == {"scope": "Outer"}
        (flow,) = nested["properties"]["template"]["resources"]
        assert flow["type"] == "Microsoft.Network/networkWatchers/flowLogs"
        assert flow["name"] == f"NetworkWatcher_{region}/fl-{vnet['name']}"
        assert flow["location"] == region
        props = flow["properties"]
        # a virtual network flow log: NSG flow logs are retired
        assert props["targetResourceId"] == (
            f"[resourceId('Microsoft.Network/virtualNetworks', '{vnet['name']}')]"
        )
        assert props["storageId"].endswith(f"/stflowlogs{'weu' if env == 'prod' else 'neu'}")
        assert props["retentionPolicy"] == {"days": 90, "enabled": True}
        analytics = props["flowAnalyticsConfiguration"]["networkWatcherFlowAnalyticsConfiguration"]
        logs = one(template, "Microsoft.OperationalInsights/workspaces")
        assert analytics["workspaceResourceId"] == (
            f"[resourceId('Microsoft.OperationalInsights/workspaces', '{logs['name']}')]"
        )
        assert analytics["enabled"] is True


def test_managed_mode_renders_no_flow_log_and_no_gateway() -> None:
    for env, template in templates(CONFIGS / "managed.yaml").items():
        assert resources(template, GATEWAY) == []
        assert not [
            d
            for d in resources(template, "Microsoft.Resources/deployments")
            if d["name"].startswith("flow-log-")
        ], env
