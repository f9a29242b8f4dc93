"""The workspace's dependencies: storage account, Key Vault and container registry."""

from __future__ import annotations

from mlops.render.arm import Resource
from mlops.render.infra._common import API


def storage_account(name: str, shares_to: str | None = None) -> Resource:
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


def key_vault(name: str) -> Resource:
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


def container_registry(name: str) -> Resource:
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
                # quarantine blocks every pull until a scanner marks the image Passed
                # (github.com/Azure/acr docs/preview/quarantine), and Azure ML has no such
                # scanner: "AzureML cannot access images in ACR with Quarantine flag"
                # (github.com/Azure/data-product-analytics/issues/137; the quickstart turned
                # it off: github.com/Azure/azure-quickstart-templates/pull/12720)
                "quarantinePolicy": {"status": "disabled"},
                "retentionPolicy": {"status": "enabled", "days": 30},
                "trustPolicy": {"status": "enabled", "type": "Notary"},
                "exportPolicy": {"status": "disabled"},
            },
        },
        sku={"name": "Premium"},
        skips=(
            (
                "CKV_AZURE_166",
                "quarantine is off: it blocks every pull until a scanner marks the image"
                " Passed, and Azure ML cannot pull quarantined images (Azure/acr quarantine"
                " docs; Azure/azure-quickstart-templates#12720 turned it off)",
            ),
        ),
    )
