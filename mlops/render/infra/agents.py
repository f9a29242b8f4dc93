"""The private build agents: a Managed DevOps Pool in its own delegated subnet."""

from __future__ import annotations

from mlops.config.root import Config
from mlops.render.arm import Parameter, Resource, Template
from mlops.render.infra._common import API


def build_agent_pool(
    template: Template, config: Config, name: str, subnet: Resource, vnet: Resource
) -> None:
    """A Managed DevOps Pool in its own subnet: the agents that reach the private workspace."""
    agents = config.network.build_agents
    template.parameters["devCenterProjectResourceId"] = Parameter(
        "string", "Dev Center project the build-agent pool belongs to."
    )
    template.parameters["organizationUrl"] = Parameter(
        "string", "Azure DevOps organization the build agents serve."
    )
    if agents.dev_center_project_id:
        template.values["devCenterProjectResourceId"] = agents.dev_center_project_id
    if config.devops.organization_url:
        template.values["organizationUrl"] = config.devops.organization_url
    template.add(
        Resource(
            "Microsoft.DevOpsInfrastructure/pools",
            API["pools"],
            name,
            {
                "devCenterProjectResourceId": "[parameters('devCenterProjectResourceId')]",
                "maximumConcurrency": agents.max_agents,
                "organizationProfile": template.variable(
                    "agents-organization",
                    {
                        "kind": "AzureDevOps",
                        "organizations": [
                            {
                                "url": "[parameters('organizationUrl')]",
                                "parallelism": agents.max_agents,
                            }
                        ],
                    },
                ),
                "agentProfile": template.variable("agents-profile", {"kind": "Stateless"}),
                "fabricProfile": template.variable(
                    "agents-fabric",
                    {
                        "kind": "Vmss",
                        "sku": {"name": agents.vm_size},
                        "images": [{"wellKnownImageName": f"{agents.image}/latest"}],
                        "networkProfile": {"subnetId": subnet.id},
                    },
                ),
            },
            depends_on=(vnet,),
        )
    )
