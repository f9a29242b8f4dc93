"""Monitoring: the Log Analytics workspace and the workspace-based Application Insights."""

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
