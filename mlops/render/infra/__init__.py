"""The ARM templates of the platform: one per Azure environment plus the shared stack.

Private networking is all or nothing: the workspace and every dependency (storage, Key Vault,
container registry, model registry) refuse public traffic and are reached through private
endpoints in the environment's virtual network, where the private build agents run too.
`network.mode` decides where training runs: `managed` puts compute in Azure ML's managed
virtual network (outbound limited to approved destinations), `vnet` in our training subnet.

One module per resource family; this one assembles an environment's template from them.
"""

from __future__ import annotations

from mlops.config.root import Config
from mlops.render.arm import Template
from mlops.render.infra._common import (
    API,
    common_parameters,
    registry_dependency_id,
    registry_id,
    tags,
)
from mlops.render.infra.access import bastion, vpn_gateway
from mlops.render.infra.agents import build_agent_pool
from mlops.render.infra.aks import kubernetes
from mlops.render.infra.diagnostics import resource_logs
from mlops.render.infra.flow_logs import flow_log
from mlops.render.infra.monitoring import app_insights, log_analytics
from mlops.render.infra.namespaces import team_computes
from mlops.render.infra.network import (
    ZONE_WORKSPACE,
    Endpoint,
    hub_peering,
    hub_zone_links,
    private_dns_zones,
    private_endpoint,
    virtual_network,
)
from mlops.render.infra.shared import shared_template
from mlops.render.infra.storage import container_registry, key_vault, storage_account
from mlops.render.infra.teams import Shared, team_resources
from mlops.render.infra.workspace import clusters, workspace

__all__ = ["API", "environment_template", "shared_template"]


def environment_template(config: Config, env: str) -> Template:
    """The template of Azure environment `env`, deployed into its resource group."""
    names = config.environment_names(env)
    spec = config.environments.azure[env]
    net = config.network
    template = Template(
        f"mlops platform, environment '{env}' of project '{config.project.name}'"
        f" (network mode: {net.mode}). Rendered from mlops.yaml by `mlops render`: do not edit."
    )
    common_parameters(template, spec.location or config.azure.location, tags(config, env))

    logs = template.add(log_analytics(names.log_analytics))
    insights = template.add(app_insights(names.app_insights, logs))
    trains = env == next(iter(config.environments.azure))  # models are shared out of it
    shares_to = registry_id(config, env) if trains else None
    storage = template.add(storage_account(names.storage_account, shares_to))
    vault = template.add(key_vault(names.key_vault))
    registry = template.add(container_registry(names.container_registry))
    ws = template.add(workspace(template, config, env, (storage, vault, registry, insights)))

    vnet, subnets = virtual_network(template, config, env, names.virtual_network)
    clusters(template, config, ws, subnets.get("training", vnet), vnet)

    endpoints = [
        Endpoint("mlw", ws.id_ref, "amlworkspace", ZONE_WORKSPACE, (ws,)),
        Endpoint(
            "blob", storage.id_ref, "blob", ("privatelink.blob.core.windows.net",), (storage,)
        ),
        Endpoint(
            "file", storage.id_ref, "file", ("privatelink.file.core.windows.net",), (storage,)
        ),
        Endpoint("kv", vault.id_ref, "vault", ("privatelink.vaultcore.azure.net",), (vault,)),
        Endpoint("cr", registry.id_ref, "registry", ("privatelink.azurecr.io",), (registry,)),
        Endpoint("mlr", registry_id(config, env), "amlregistry", ("privatelink.api.azureml.ms",)),
        # "Create a private endpoint to the registry, storage, and ACR in the same subnet as
        # the private endpoint of the AML workspace" (/azure/machine-learning/
        # how-to-registry-network-isolation, "Use assets from registry in workspace")
        Endpoint(
            "mlr-blob",
            registry_dependency_id(config, env, "storage"),
            "blob",
            ("privatelink.blob.core.windows.net",),
        ),
        Endpoint(
            "mlr-cr",
            registry_dependency_id(config, env, "acr"),
            "registry",
            ("privatelink.azurecr.io",),
        ),
    ]
    hub_peering(template, config, vnet)
    bastion(template, config, vnet, subnets)
    vpn_gateway(template, config, env, vnet, subnets)
    zones = private_dns_zones(template, config, vnet)
    hub_zone_links(template, config, vnet)
    for endpoint in endpoints:
        private_endpoint(
            template, names.workspace, endpoint, subnets["private_endpoints"], vnet, zones
        )

    # with teams: each its own workspace and storage in the shared network (teams.py)
    teams = team_resources(
        template, config, env, Shared(vault, registry, insights, vnet, subnets, zones)
    )

    build_agent_pool(template, config, names.agent_pool, subnets["build_agents"], vnet)
    if config.deployment.target == "kubernetes":
        cluster, extension = kubernetes(
            template, config, env, names.kubernetes, ws, subnets["aks"], vnet, logs
        )
        team_computes(template, config, env, teams, cluster, extension)
    resource_logs(template, config, logs)
    flow_log(template, config, env, vnet, logs)

    template.outputs |= {
        "workspaceName": {"type": "string", "value": names.workspace},
        "workspaceId": {"type": "string", "value": ws.id},
        "virtualNetworkId": {"type": "string", "value": vnet.id},
    }
    for firewall in (r for r in template.resources if r.type == "Microsoft.Network/azureFirewalls"):
        # the address the route table names was derived (egress.py): this shows the real one
        template.outputs["firewallPrivateIp"] = {
            "type": "string",
            "value": f"[reference({firewall.id_ref}).ipConfigurations[0]"
            ".properties.privateIPAddress]",
        }
    return template
