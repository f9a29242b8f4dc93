"""The shared stack: the Azure ML registry the environments promote models through."""

from __future__ import annotations

from mlops.config.root import Config
from mlops.render.arm import Resource, Template
from mlops.render.infra._common import API, common_parameters, tags


def shared_template(config: Config) -> Template:
    """What the environments share: the Azure ML registry that models are promoted through."""
    shared = config.shared_names()
    template = Template(
        f"mlops platform, shared stack of project '{config.project.name}': the Azure ML"
        " registry the environments promote models through. Rendered by `mlops render`."
    )
    common_parameters(template, config.azure.location, tags(config, "shared"))
    regions = []
    for spec in config.environments.azure.values():
        region = spec.location or config.azure.location
        if region and region not in regions:
            regions.append(region)
    region_details = [
        {
            "location": region,
            "storageAccountDetails": [
                {
                    "systemCreatedStorageAccount": {
                        "storageAccountType": "Standard_LRS",
                        "storageAccountHnsEnabled": False,
                        "allowBlobPublicAccess": False,
                    }
                }
            ],
            "acrDetails": [{"systemCreatedAcrAccount": {"acrAccountSku": "Premium"}}],
        }
        for region in (regions or ["[parameters('location')]"])
    ]
    registry = template.add(
        Resource(
            "Microsoft.MachineLearningServices/registries",
            API["ml"],
            shared.registry,
            {"publicNetworkAccess": "Disabled", "regionDetails": region_details},
            identity={"type": "SystemAssigned"},
        )
    )
    template.outputs = {
        "registryName": {"type": "string", "value": shared.registry},
        "registryId": {"type": "string", "value": registry.id},
    }
    return template
