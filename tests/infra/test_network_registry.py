"""The shared registry reached privately: its own storage account and container registry get
private endpoints next to the workspace's, as Microsoft documents for a private registry."""

from __future__ import annotations

from pathlib import Path

from tests.infra.conftest import CONFIGS, copy_config
from tests.infra.network_helpers import resources, templates

PE = "Microsoft.Network/privateEndpoints"
REGISTRY = "resourceId('rg-contoso-churn-shared', 'Microsoft.MachineLearningServices/registries'"


def _endpoints(template: dict, env: str) -> dict[str, dict]:
    """Private endpoints by suffix: mlw, blob, ..., mlr-blob."""
    prefix = f"pe-contoso-churn-{env}-"
    return {r["name"].removeprefix(prefix): r for r in resources(template, PE)}


def _connection(endpoint: dict) -> dict:
    (connection,) = endpoint["properties"]["privateLinkServiceConnections"]
    return connection["properties"]


def test_every_environment_reaches_the_registrys_storage_and_acr_from_the_workspace_subnet() -> (
    None
):
    for env, template in templates(CONFIGS / "vnet.yaml").items():
        if env == "shared":
            continue
        endpoints = _endpoints(template, env)
        workspace_subnet = endpoints["mlw"]["properties"]["subnet"]
        # "Create a private endpoint to the registry, storage, and ACR in the same subnet as
        # the private endpoint of the AML workspace" (how-to-registry-network-isolation)
        for suffix, group, detail in (
            ("mlr-blob", "blob", "storageAccountDetails[0].systemCreatedStorageAccount"),
            ("mlr-cr", "registry", "acrDetails[0].systemCreatedAcrAccount"),
        ):
            endpoint = endpoints[suffix]
            assert endpoint["properties"]["subnet"] == workspace_subnet
            connection = _connection(endpoint)
            assert connection["groupIds"] == [group]
            target = connection["privateLinkServiceId"]
            # the managed resource group's name holds a random GUID: the id is the one the
            # registry reports for the environment's region once it exists
            assert REGISTRY in target and "regionDetails" in target
            assert "parameters('location')" in target
            assert target.endswith(f".{detail}.armResourceId.resourceId]")


def test_the_registry_endpoints_register_in_the_blob_and_acr_zones() -> None:
    template = templates(CONFIGS / "vnet.yaml")["dev"]
    groups = {
        r["name"].split("/")[0]: r
        for r in resources(template, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups")
    }
    blob = groups["pe-contoso-churn-dev-mlr-blob"]["properties"]["privateDnsZoneConfigs"]
    assert [c["name"] for c in blob] == ["privatelink-blob-core-windows-net"]
    acr = groups["pe-contoso-churn-dev-mlr-cr"]["properties"]["privateDnsZoneConfigs"]
    assert [c["name"] for c in acr] == ["privatelink-azurecr-io"]


def test_an_environment_in_another_subscription_names_the_registry_with_its_subscription(
    tmp_path: Path,
) -> None:
    path = copy_config("vnet", tmp_path)
    other = "55555555-5555-5555-5555-555555555555"
    path.write_text(
        path.read_text().replace(
            "  prod: {location: westeurope,",
            f"  prod: {{subscription_id: {other}, location: westeurope,",
        )
    )
    endpoints = _endpoints(templates(path)["prod"], "prod")
    for suffix in ("mlr", "mlr-blob", "mlr-cr"):
        target = _connection(endpoints[suffix])["privateLinkServiceId"]
        assert "resourceId('22222222-2222-2222-2222-222222222222', 'rg-contoso-churn-shared'" in (
            target
        )
