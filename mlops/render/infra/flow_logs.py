"""Virtual network flow logs of the environment's network, with traffic analytics.

NSG flow logs are being retired (no new ones after 30 June 2025, retired 30 September 2027:
/azure/network-watcher/nsg-flow-logs-overview); a virtual network flow log replaces them, one
per network (/azure/network-watcher/vnet-flow-logs-overview). A flow log is a child of the
region's Network Watcher, which Azure keeps once per region and subscription, usually in
NetworkWatcherRG (/azure/network-watcher/network-watcher-create); a second one cannot be
created. So the flow log cannot live in the environment's resource group: it is deployed
into the watcher's, through a nested deployment whose expressions are evaluated in this
template (the network and the Log Analytics workspace are ids here), and mlops.yaml names
the watcher and the storage account per region (network.flow_logs).
"""

from __future__ import annotations

from mlops.config.root import Config
from mlops.render.arm import SCHEMA, Resource, Template, quote
from mlops.render.infra._common import API


def flow_log(template: Template, config: Config, env: str, vnet: Resource, logs: Resource) -> None:
    settings = config.network.flow_logs
    if settings is None or config.network.mode != "vnet":
        return
    region = config.environments.azure[env].location or config.azure.location
    target = settings.regions[region or ""]  # config checks name a missing region (exit 2)
    parts = target.network_watcher_id.split("/")
    subscription, group, watcher = parts[2], parts[4], parts[-1]
    workspace = f"reference({logs.id_ref}, {quote(API['logs'])})"
    flow = {
        "type": "Microsoft.Network/networkWatchers/flowLogs",
        "apiVersion": API["network"],
        "name": f"{watcher}/fl-{vnet.name}",
        "location": region,
        "tags": dict(template.tags),
        "properties": {
            "targetResourceId": vnet.id,
            "storageId": target.storage_account_id,
            "enabled": True,
            # version 2 adds throughput and flow state (the overview page, "Log format")
            "format": {"type": "JSON", "version": 2},
            "retentionPolicy": {
                "days": settings.retention_days,
                "enabled": settings.retention_days > 0,
            },
            "flowAnalyticsConfiguration": {
                "networkWatcherFlowAnalyticsConfiguration": {
                    "enabled": True,
                    "workspaceId": f"[{workspace}.customerId]",
                    "workspaceRegion": "[parameters('location')]",
                    "workspaceResourceId": logs.id,
                    "trafficAnalyticsInterval": settings.traffic_analytics_minutes,
                }
            },
        },
    }
    template.add(
        Resource(
            "Microsoft.Resources/deployments",
            API["deployments"],
            f"flow-log-{vnet.name.removeprefix('vnet-')}"[:64],
            {
                "mode": "Incremental",
                # outer scope: the network's and the workspace's ids resolve in this template
                "expressionEvaluationOptions": {"scope": "Outer"},
                "template": {
                    "$schema": SCHEMA,
                    "contentVersion": "1.0.0.0",
                    "resources": [flow],
                },
            },
            location=None,
            tags=False,
            depends_on=(vnet, logs),
            subscription_id=subscription,
            resource_group=group,
        )
    )
