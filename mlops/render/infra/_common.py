"""What every resource family of the platform's templates shares: api-versions, tags, ids."""

from __future__ import annotations

from mlops.config.root import Config
from mlops.render.arm import Parameter, Resource, Template, quote

# api-versions: the newest stable ones the ARM resource schemas describe
API = {
    "logs": "2023-09-01",
    "insights": "2020-02-02",
    "storage": "2024-01-01",
    "keyvault": "2024-11-01",
    "acr": "2023-07-01",
    "ml": "2024-10-01",
    "network": "2024-05-01",
    "dns": "2024-06-01",
    "pools": "2024-10-19",
    "aks": "2024-09-01",
    "k8s_extension": "2023-05-01",
    # the first version whose GitRepositoryDefinition has `provider` (workload identity)
    "flux": "2024-11-01",
    "deployments": "2024-03-01",
    "compute": "2024-07-01",
}


def tags(config: Config, env: str) -> dict[str, str]:
    return {"project": config.project.name, "environment": env, "managed-by": "mlops"}


def common_parameters(template: Template, location: str | None, tags: dict[str, str]) -> None:
    template.parameters["location"] = Parameter(
        "string", "Azure region of the resources.", "[resourceGroup().location]"
    )
    template.tags = tags
    if location:
        template.values["location"] = location


def registry_id(config: Config, env: str | None = None) -> str:
    """Id expression (without brackets) of the shared Azure ML registry, as seen from
    environment `env`: with the subscription when `env` lives in another one, or
    `resourceId` would look for the shared resource group in the environment's."""
    shared = config.shared_names()
    scope = quote(shared.resource_group)
    own = config.environments.azure[env].subscription_id if env else None
    if own and config.azure.subscription_id and own != config.azure.subscription_id:
        scope = f"{quote(config.azure.subscription_id)}, {scope}"
    return (
        f"resourceId({scope}, "
        f"'Microsoft.MachineLearningServices/registries', {quote(shared.registry)})"
    )


#: where the registry's own storage account and ACR are: created by Azure in a managed
#: resource group `azureml-rg-<registry>_<GUID>` with a random GUID, so their ids come from
#: the registry once deployed (regionDetails[].*.armResourceId: "populated once the storage
#: account is created", Microsoft.MachineLearningServices registries, api 2024-10-01)
REGISTRY_DEPENDENCIES = {
    "storage": "storageAccountDetails[0].systemCreatedStorageAccount",
    "acr": "acrDetails[0].systemCreatedAcrAccount",
}


def registry_dependency_id(config: Config, env: str, kind: str) -> str:
    """Id expression (without brackets) of the shared registry's storage account or ACR in
    environment `env`'s region: one region of the registry's regionDetails (shared.py).
    filter() with a lambda over reference()'s result is allowed; lambda variables inside
    reference() would not be (/azure/azure-resource-manager/templates/template-functions-lambda)."""
    same_region = (
        "lambda('r', equals(toLower(replace(lambdaVariables('r').location, ' ', '')),"
        " toLower(replace(parameters('location'), ' ', ''))))"
    )
    details = f"reference({registry_id(config, env)}, {quote(API['ml'])}).regionDetails"
    return (
        f"first(filter({details}, {same_region})).{REGISTRY_DEPENDENCIES[kind]}"
        ".armResourceId.resourceId"
    )


def compute(
    template: Template, name: str, body: dict, depends_on: tuple[Resource, ...]
) -> Resource:
    """A workspace compute; its body (discriminated by `computeType`) is a template variable."""
    return Resource(
        "Microsoft.MachineLearningServices/workspaces/computes",
        API["ml"],
        name,
        template.variable("compute-" + name.rsplit("/", 1)[1], body),
        identity={"type": "SystemAssigned"},
        depends_on=depends_on,
    )
