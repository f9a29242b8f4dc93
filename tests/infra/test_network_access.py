"""A way in, and address spaces that let every environment peer with one hub: derived per
environment, overlaps refused before anything is rendered; hub DNS zones linked."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.infra.conftest import CONFIGS, copy_config
from tests.infra.network_helpers import by_id, one, resources, subnets, templates

PEERING = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"


def test_each_environment_gets_its_own_address_space_derived_from_the_first() -> None:
    rendered = templates(CONFIGS / "vnet.yaml")
    spaces = {
        env: one(t, "Microsoft.Network/virtualNetworks")["properties"]["addressSpace"]
        for env, t in rendered.items()
        if env != "shared"
    }
    assert spaces == {
        "dev": {"addressPrefixes": ["10.40.0.0/16"]},
        "test": {"addressPrefixes": ["10.41.0.0/16"]},
        "prod": {"addressPrefixes": ["10.42.0.0/16"]},
    }
    # subnets keep their offsets inside each environment's block
    assert subnets(rendered["prod"])["snet-training"]["addressPrefix"] == "10.42.1.0/24"


def test_an_environment_may_name_its_own_address_space_and_its_subnets_follow(
    tmp_path: Path,
) -> None:
    path = copy_config("vnet", tmp_path)
    path.write_text(
        path.read_text().replace(
            "  address_space: [10.40.0.0/16]\n",
            "  address_space: [10.40.0.0/16]\n  address_spaces: {prod: [10.60.0.0/16]}\n",
        )
    )
    prod = templates(path)["prod"]
    vnet = one(prod, "Microsoft.Network/virtualNetworks")
    assert vnet["properties"]["addressSpace"]["addressPrefixes"] == ["10.60.0.0/16"]
    assert subnets(prod)["snet-private-endpoints"]["addressPrefix"] == "10.60.0.0/24"


@pytest.mark.parametrize(
    ("override", "both"),
    [
        ("  address_spaces: {test: [10.40.0.0/16]}\n", ("dev", "test")),
        ("  address_spaces: {prod: [10.41.128.0/17]}\n", ("test", "prod")),
    ],
)
def test_environments_whose_address_spaces_overlap_are_refused_with_exit_2_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, override: str, both: tuple[str, str]
) -> None:
    path = copy_config("vnet", tmp_path)
    path.write_text(
        path.read_text().replace(
            "  address_space: [10.40.0.0/16]\n", "  address_space: [10.40.0.0/16]\n" + override
        )
    )
    monkeypatch.chdir(tmp_path)

    result = run_cli("render")

    assert result.exit_code == 2
    first, second = both
    assert f"environment {first}" in result.stderr
    assert f"environment {second}" in result.stderr
    assert "overlap" in result.stderr
    assert not (tmp_path / "infra").exists()


def test_an_environment_overlapping_the_hub_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_config("vnet", tmp_path)
    path.write_text(
        path.read_text().replace("address_space: [10.0.0.0/16]", "address_space: [10.42.0.0/16]")
    )
    monkeypatch.chdir(tmp_path)

    result = run_cli("config", "validate")

    assert result.exit_code == 2
    assert "environment prod" in result.stderr and "the hub" in result.stderr


def test_hub_peering_is_a_way_in_and_the_hub_dns_zones_are_linked_to_every_environment() -> None:
    for env, template in templates(CONFIGS / "vnet.yaml").items():
        if env == "shared":
            continue
        vnet = one(template, "Microsoft.Network/virtualNetworks")
        (peering,) = resources(template, PEERING)
        assert peering["name"] == f"{vnet['name']}/peer-hub"
        assert peering["properties"]["remoteVirtualNetwork"]["id"].endswith("/vnet-hub")
        assert peering["properties"]["allowVirtualNetworkAccess"] is True

        (links,) = [
            d
            for d in resources(template, "Microsoft.Resources/deployments")
            if d["name"].startswith("dns-links-")
        ]
        # deployed where the hub's zones live, not in the environment's resource group
        assert links["subscriptionId"] == "33333333-3333-3333-3333-333333333333"
        assert links["resourceGroup"] == "rg-hub-dns"
        linked = {
            (link["name"], link["properties"]["virtualNetwork"]["id"])
            for link in links["properties"]["template"]["resources"]
        }
        vnet_id = f"[resourceId('Microsoft.Network/virtualNetworks', '{vnet['name']}')]"
        assert linked == {
            (f"privatelink.blob.core.windows.net/{vnet['name']}", vnet_id),
            (f"privatelink.file.core.windows.net/{vnet['name']}", vnet_id),
        }
        # the zones the environment creates itself are linked in its own template
        own = resources(template, "Microsoft.Network/privateDnsZones/virtualNetworkLinks")
        assert own and all(link["properties"]["virtualNetwork"]["id"] == vnet_id for link in own)


def test_bastion_with_a_jump_host_is_a_way_in_without_public_ip_on_the_host() -> None:
    dev = templates(CONFIGS / "kubernetes.yaml")["dev"]
    bastion_subnet = subnets(dev)["AzureBastionSubnet"]
    assert ipaddress.IPv4Network(bastion_subnet["addressPrefix"]).prefixlen <= 26
    bastion = one(dev, "Microsoft.Network/bastionHosts")
    (ipconfig,) = bastion["properties"]["ipConfigurations"]
    assert by_id(dev, ipconfig["properties"]["publicIPAddress"]["id"])["sku"]["name"] == "Standard"

    vm = one(dev, "Microsoft.Compute/virtualMachines")
    linux = vm["properties"]["osProfile"]["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True
    (nic_ref,) = vm["properties"]["networkProfile"]["networkInterfaces"]
    nic = by_id(dev, nic_ref["id"])
    (nic_ip,) = nic["properties"]["ipConfigurations"]
    assert "publicIPAddress" not in nic_ip["properties"]
    assert nic_ip["properties"]["subnet"]["id"].endswith("'snet-jump-hosts')]")

    jump = subnets(dev)["snet-jump-hosts"]
    nsg = by_id(dev, jump["networkSecurityGroup"]["id"])
    (ssh,) = nsg["properties"]["securityRules"]
    assert ssh["properties"]["sourceAddressPrefix"] == bastion_subnet["addressPrefix"]
    assert ssh["properties"]["destinationPortRange"] == "22"
    assert "natGateway" in jump  # the host can install its updates
