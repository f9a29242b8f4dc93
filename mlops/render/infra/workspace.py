"""The Azure ML workspace, its managed network settings and its training clusters."""

from __future__ import annotations

import re

from mlops.config.root import Config
from mlops.render.arm import Resource, Template
from mlops.render.infra._common import API, compute, registry_id


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


def _managed_network(template: Template, config: Config, env: str) -> dict:
    """Managed mode: outbound only to approved destinations, the model registry among them."""
    network: dict = {"isolationMode": _isolation_mode(config)}
    if config.network.mode == "managed":
        rule = {
            "type": "PrivateEndpoint",
            "category": "UserDefined",
            "destination": {
                "serviceResourceId": f"[{registry_id(config, env)}]",
                "subresourceTarget": "amlregistry",
                "sparkEnabled": False,
            },
        }
        network["outboundRules"] = template.variable("outbound-rules", {"model-registry": rule})
    return network


def _isolation_mode(config: Config) -> str:
    if config.network.mode == "vnet":
        return "Disabled"
    if config.network.outbound == "allow_internet_outbound":
        return "AllowInternetOutbound"
    return "AllowOnlyApprovedOutbound"


def workspace(
    template: Template,
    config: Config,
    env: str,
    dependencies: tuple[Resource, Resource, Resource, Resource],
) -> Resource:
    """The workspace: private, identity-based datastores, its dependencies by id."""
    names = config.environment_names(env)
    storage, vault, registry, insights = dependencies
    return Resource(
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
            "managedNetwork": _managed_network(template, config, env),
            # ACR and storage are private, so images cannot build on serverless compute:
            # "imageBuildCompute ... required when ACR/storage are network-restricted",
            # a CPU cluster (/azure/machine-learning/how-to-secure-workspace-vnet,
            # "Enable Azure Container Registry")
            **_image_build_compute(config),
        },
        sku={"name": "Basic", "tier": "Basic"},
        identity={"type": "SystemAssigned"},
        depends_on=(storage, vault, registry, insights),
        skips=_workspace_skips(config),
    )


def clusters(
    template: Template, config: Config, workspace: Resource, subnet: Resource, vnet: Resource
) -> None:
    """The training clusters: no public IP, scale to zero; in our subnet in vnet mode."""
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
        if config.network.mode == "vnet":
            properties["subnet"] = {"id": subnet.id}
            depends = (workspace, vnet)
        template.add(
            compute(
                template,
                f"{workspace.name}/{cluster_name}",
                {"computeType": "AmlCompute", "disableLocalAuth": True, "properties": properties},
                depends,
            )
        )


#: GPU VM families (N-series): image builds need a CPU cluster
GPU_SIZE = re.compile(r"^Standard_N", re.IGNORECASE)


def image_build_cluster(config: Config) -> str | None:
    """The first CPU cluster, which builds the workspace's environment images."""
    for name, cluster in config.compute.clusters.items():
        if not GPU_SIZE.match(cluster.size):
            return name
    return None


def _image_build_compute(config: Config) -> dict:
    name = image_build_cluster(config)
    return {} if name is None else {"imageBuildCompute": name}
