"""Monitoring: the Log Analytics workspace and the workspace-based Application Insights.

Both keep public ingestion and query on (their defaults). The private path to them is an
Azure Monitor Private Link Scope with a private endpoint (/azure/azure-monitor/logs/
private-link-security), which cannot be rendered here: the vendored ARM schemas have no
microsoft.insights/privateLinkScopes. Without it, turning public ingestion off would cut the
workspace's and the compute's telemetry off, since they reach Azure Monitor only over its
public endpoints (the AzureMonitor service tag, /azure/machine-learning/
how-to-access-azureml-behind-firewall). Application Insights accepts Entra ID-authenticated
telemetry only (DisableLocalAuth: /azure/azure-monitor/app/azure-ad-authentication), so an
instrumentation key alone cannot write to it; resource logs reach Log Analytics through the
policies in diagnostics.py.
"""

from __future__ import annotations

from mlops.render.arm import Resource
from mlops.render.infra._common import API


def log_analytics(name: str) -> Resource:
    return Resource(
        "Microsoft.OperationalInsights/workspaces",
        API["logs"],
        name,
        {"sku": {"name": "PerGB2018"}, "retentionInDays": 30},
    )


def app_insights(name: str, logs: Resource) -> Resource:
    return Resource(
        "Microsoft.Insights/components",
        API["insights"],
        name,
        {
            "Application_Type": "web",
            "WorkspaceResourceId": logs.id,
            "DisableLocalAuth": True,
        },
        kind="web",
        depends_on=(logs,),
    )
