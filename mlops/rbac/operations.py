"""Microsoft's published provider operations, kept as data: name, and whether it is a data action.

`rbac check` classifies an operation from this table, never from its shape: the Key Vault
operation `vaults/secrets/write` is a control-plane action (Contributor's `*` grants it) while
`vaults/secrets/getSecret/action` is a data action, and only the published list tells them
apart. Each provider's list names the page it comes from; an operation Azure adds later is
unknown here until the list is refreshed, and `rbac check` says so rather than guess.

How each list was made: Microsoft.MachineLearningServices is the page's whole table, copied
row by row; Microsoft.KeyVault is the page's secrets and vault rows (actions and data
actions); Microsoft.Storage, Microsoft.Network, Microsoft.Authorization and
Microsoft.Resources are the subset the platform's roles and checks name, written from those
pages without a row-by-row copy: re-check them against the page before relying on a name;
Microsoft.ContainerService likewise (operations_aks, for the AKS roles).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from mlops.rbac import operations_aks

PERMISSIONS = "https://learn.microsoft.com/azure/role-based-access-control/permissions"


@dataclass(frozen=True)
class Provider:
    namespace: str
    source: str  # where the list was copied from
    actions: str  # one operation a line, relative to the namespace
    data_actions: str = ""
    note: str = ""


@dataclass(frozen=True)
class Operation:
    name: str  # as Microsoft spells it
    data_action: bool
    source: str


#: Microsoft.MachineLearningServices: the page has an Action table only (no DataActions), so
#: every listed operation, list-keys and score included, is a control-plane action.
ML = Provider(
    "Microsoft.MachineLearningServices",
    f"{PERMISSIONS}/ai-machine-learning (MicrosoftDocs/azure-docs"
    " articles/role-based-access-control/permissions/ai-machine-learning.md @01365cd5,"
    " ms.date 02/07/2024)",
    """
register/action
locations/deleteVirtualNetworkOrSubnets/action
locations/updateQuotas/action
locations/computeoperationsstatus/read
locations/mfeOperationResults/read
locations/mfeOperationsStatus/read
locations/quotas/read
locations/usages/read
locations/vmsizes/read
locations/workspaceOperationsStatus/read
operations/read
registries/read
registries/write
registries/delete
registries/privateEndpointConnectionsApproval/action
registries/assets/read
registries/assets/write
registries/assets/delete
registries/assets/stage/write
registries/checkNameAvailability/read
registries/connections/read
registries/connections/write
registries/connections/delete
registries/privateEndpointConnectionProxies/read
registries/privateEndpointConnectionProxies/write
registries/privateEndpointConnectionProxies/delete
registries/privateEndpointConnectionProxies/validate/action
registries/privateEndpointConnections/read
registries/privateEndpointConnections/write
registries/privateEndpointConnections/delete
registries/privateLinkResources/read
virtualclusters/read
virtualclusters/write
virtualclusters/delete
virtualclusters/jobs/submit/action
workspaces/checkComputeNameAvailability/action
workspaces/read
workspaces/write
workspaces/delete
workspaces/listKeys/action
workspaces/resynckeys/action
workspaces/listStorageAccountKeys/action
workspaces/provisionManagedNetwork/action
workspaces/privateEndpointConnectionsApproval/action
workspaces/featuresets/action
workspaces/featurestoreentities/action
workspaces/assets/stage/write
workspaces/batchEndpoints/read
workspaces/batchEndpoints/write
workspaces/batchEndpoints/delete
workspaces/batchEndpoints/listKeys/action
workspaces/batchEndpoints/checkNameAvailability/read
workspaces/batchEndpoints/deployments/read
workspaces/batchEndpoints/deployments/write
workspaces/batchEndpoints/deployments/delete
workspaces/batchEndpoints/deployments/checkNameAvailability/read
workspaces/batchEndpoints/deployments/jobs/read
workspaces/batchEndpoints/deployments/jobs/write
workspaces/batchEndpoints/deployments/jobs/delete
workspaces/batchEndpoints/jobs/read
workspaces/batchEndpoints/jobs/write
workspaces/batchEndpoints/jobs/delete
workspaces/codes/read
workspaces/codes/write
workspaces/codes/delete
workspaces/codes/versions/read
workspaces/codes/versions/write
workspaces/codes/versions/delete
workspaces/components/read
workspaces/components/write
workspaces/components/delete
workspaces/components/versions/read
workspaces/components/versions/write
workspaces/components/versions/delete
workspaces/computes/read
workspaces/computes/write
workspaces/computes/delete
workspaces/computes/listKeys/action
workspaces/computes/listNodes/action
workspaces/computes/start/action
workspaces/computes/stop/action
workspaces/computes/restart/action
workspaces/computes/updateDataMounts/action
workspaces/computes/updateIdleShutdownSetting/action
workspaces/computes/applicationaccess/action
workspaces/computes/updateSchedules/action
workspaces/computes/applicationaccessuilinks/action
workspaces/computes/reimage/action
workspaces/connections/read
workspaces/connections/write
workspaces/connections/delete
workspaces/connections/listsecrets/action
workspaces/data/read
workspaces/data/write
workspaces/data/delete
workspaces/data/versions/read
workspaces/data/versions/write
workspaces/data/versions/delete
workspaces/datadriftdetectors/read
workspaces/datadriftdetectors/write
workspaces/datadriftdetectors/delete
workspaces/datasets/read
workspaces/datasets/write
workspaces/datasets/delete
workspaces/datasets/registered/read
workspaces/datasets/registered/write
workspaces/datasets/registered/delete
workspaces/datasets/registered/preview/read
workspaces/datasets/registered/profile/read
workspaces/datasets/registered/profile/write
workspaces/datasets/registered/schema/read
workspaces/datasets/unregistered/read
workspaces/datasets/unregistered/write
workspaces/datasets/unregistered/delete
workspaces/datasets/unregistered/preview/read
workspaces/datasets/unregistered/profile/read
workspaces/datasets/unregistered/profile/write
workspaces/datasets/unregistered/schema/read
workspaces/datasets/versions/read
workspaces/datasets/versions/write
workspaces/datasets/versions/delete
workspaces/datastores/read
workspaces/datastores/write
workspaces/datastores/delete
workspaces/datastores/listsecrets/action
workspaces/diagnose/read
workspaces/endpoints/read
workspaces/endpoints/write
workspaces/endpoints/delete
workspaces/endpoints/listkeys/action
workspaces/endpoints/deployments/read
workspaces/endpoints/deployments/write
workspaces/endpoints/deployments/delete
workspaces/endpoints/deployments/modelmonitorings/read
workspaces/endpoints/deployments/modelmonitorings/write
workspaces/endpoints/deployments/modelmonitorings/delete
workspaces/endpoints/models/read
workspaces/endpoints/pipelines/read
workspaces/endpoints/pipelines/write
workspaces/environments/read
workspaces/environments/readSecrets/action
workspaces/environments/write
workspaces/environments/build/action
workspaces/environments/versions/read
workspaces/environments/versions/write
workspaces/environments/versions/delete
workspaces/eventGridFilters/read
workspaces/eventGridFilters/write
workspaces/eventGridFilters/delete
workspaces/experiments/read
workspaces/experiments/write
workspaces/experiments/delete
workspaces/experiments/runs/submit/action
workspaces/experiments/runs/read
workspaces/experiments/runs/write
workspaces/experiments/runs/delete
workspaces/features/read
workspaces/featuresets/read
workspaces/featuresets/write
workspaces/featuresets/delete
workspaces/featurestoreentities/read
workspaces/featurestoreentities/write
workspaces/featurestoreentities/delete
workspaces/featurestores/read
workspaces/featurestores/write
workspaces/featurestores/delete
workspaces/hubs/read
workspaces/hubs/write
workspaces/hubs/delete
workspaces/hubs/join/action
workspaces/hubs/policies/read
workspaces/hubs/policies/delete
workspaces/hubs/policies/write
workspaces/jobs/read
workspaces/jobs/write
workspaces/jobs/delete
workspaces/jobs/cancel/action
workspaces/jobs/operationresults/read
workspaces/labeling/export/action
workspaces/labeling/labelimport/action
workspaces/labeling/labels/read
workspaces/labeling/labels/write
workspaces/labeling/labels/reject/action
workspaces/labeling/labels/delete
workspaces/labeling/labels/update/action
workspaces/labeling/labels/approve_unapprove/action
workspaces/labeling/projects/read
workspaces/labeling/projects/write
workspaces/labeling/projects/delete
workspaces/labeling/projects/summary/read
workspaces/linkedServices/read
workspaces/linkedServices/write
workspaces/linkedServices/delete
workspaces/listNotebookAccessToken/read
workspaces/listNotebookKeys/read
workspaces/managedstorages/claim/read
workspaces/managedstorages/claim/write
workspaces/managedstorages/quota/read
workspaces/metadata/artifacts/read
workspaces/metadata/artifacts/write
workspaces/metadata/artifacts/delete
workspaces/metadata/secrets/read
workspaces/metadata/secrets/write
workspaces/metadata/secrets/delete
workspaces/metadata/snapshots/read
workspaces/metadata/snapshots/write
workspaces/metadata/snapshots/delete
workspaces/metrics/resource/write
workspaces/models/read
workspaces/models/write
workspaces/models/delete
workspaces/models/package/action
workspaces/models/versions/read
workspaces/models/versions/write
workspaces/models/versions/delete
workspaces/modules/read
workspaces/modules/write
workspaces/notebooks/samples/read
workspaces/notebooks/storage/read
workspaces/notebooks/storage/write
workspaces/notebooks/storage/delete
workspaces/notebooks/storage/upload/action
workspaces/notebooks/storage/download/action
workspaces/notebooks/vm/read
workspaces/notebooks/vm/write
workspaces/notebooks/vm/delete
workspaces/onlineEndpoints/read
workspaces/onlineEndpoints/write
workspaces/onlineEndpoints/delete
workspaces/onlineendpoints/regeneratekeys/action
workspaces/onlineEndpoints/score/action
workspaces/onlineendpoints/token/action
workspaces/onlineendpoints/listkeys/action
workspaces/onlineEndpoints/checkNameAvailability/read
workspaces/onlineEndpoints/deployments/read
workspaces/onlineendpoints/deployments/getlogs/action
workspaces/onlineEndpoints/deployments/write
workspaces/onlineEndpoints/deployments/delete
workspaces/onlineEndpoints/deployments/checkNameAvailability/read
workspaces/onlineendpoints/deployments/operationresults/read
workspaces/onlineendpoints/deployments/operationsstatus/read
workspaces/onlineEndpoints/deployments/skus/read
workspaces/onlineendpoints/operationresults/read
workspaces/onlineendpoints/operationsstatus/read
workspaces/outboundNetworkDependenciesEndpoints/read
workspaces/pipelinedrafts/read
workspaces/pipelinedrafts/write
workspaces/pipelinedrafts/delete
workspaces/privateEndpointConnectionProxies/read
workspaces/privateEndpointConnectionProxies/write
workspaces/privateEndpointConnectionProxies/delete
workspaces/privateEndpointConnectionProxies/validate/action
workspaces/privateEndpointConnections/read
workspaces/privateEndpointConnections/write
workspaces/privateEndpointConnections/delete
workspaces/privateLinkResources/read
workspaces/providers/Microsoft.Insights/diagnosticSettings/read
workspaces/providers/Microsoft.Insights/diagnosticSettings/write
workspaces/providers/Microsoft.Insights/logDefinitions/read
workspaces/providers/Microsoft.Insights/metricDefinitions/read
workspaces/reports/read
workspaces/reports/write
workspaces/reports/delete
workspaces/schedules/read
workspaces/schedules/write
workspaces/schedules/delete
workspaces/serverlessEndpoints/read
workspaces/serverlessEndpoints/write
workspaces/serverlessEndpoints/delete
workspaces/serverlessEndpoints/listKeys/action
workspaces/serverlessEndpoints/regenerateKeys/action
workspaces/services/read
workspaces/services/aci/write
workspaces/services/aci/listkeys/action
workspaces/services/aci/delete
workspaces/services/aks/write
workspaces/services/aks/listkeys/action
workspaces/services/aks/delete
workspaces/services/aks/score/action
""",
)

#: Outbound rules of a workspace's managed network: an ARM child resource type since API
#: 2023-04-01-preview, absent from the operations page above; ARM authorizes a PUT, GET or
#: DELETE of a resource type as <type>/write, /read, /delete.
ML_OUTBOUND_RULES = Provider(
    "Microsoft.MachineLearningServices",
    "https://learn.microsoft.com/azure/templates/microsoft.machinelearningservices/"
    "2023-08-01-preview/workspaces/outboundrules (resource type; operation names inferred)",
    """
workspaces/outboundRules/read
workspaces/outboundRules/write
workspaces/outboundRules/delete
""",
)

KEY_VAULT = Provider(
    "Microsoft.KeyVault",
    f"{PERMISSIONS}/security (Microsoft.KeyVault)",
    """
vaults/read
vaults/write
vaults/delete
vaults/deploy/action
vaults/accessPolicies/write
vaults/secrets/read
vaults/secrets/write
vaults/keys/read
vaults/keys/write
vaults/privateEndpointConnections/read
vaults/privateEndpointConnections/write
vaults/privateEndpointConnections/delete
vaults/privateEndpointConnectionsApproval/action
""",
    """
vaults/secrets/getSecret/action
vaults/secrets/setSecret/action
vaults/secrets/readMetadata/action
vaults/secrets/delete
vaults/secrets/backup/action
vaults/secrets/purge/action
vaults/secrets/update/action
vaults/secrets/recover/action
vaults/secrets/restore/action
""",
)

STORAGE = Provider(
    "Microsoft.Storage",
    f"{PERMISSIONS}/storage (Microsoft.Storage); the blob rows as the built-in Storage Blob"
    " Data roles list them (learn.microsoft.com/azure/role-based-access-control/"
    "built-in-roles/storage)",
    """
storageAccounts/read
storageAccounts/write
storageAccounts/delete
storageAccounts/listKeys/action
storageAccounts/regeneratekey/action
storageAccounts/listAccountSas/action
storageAccounts/privateEndpointConnections/read
storageAccounts/privateEndpointConnections/write
storageAccounts/privateEndpointConnections/delete
storageAccounts/privateEndpointConnectionsApproval/action
storageAccounts/blobServices/read
storageAccounts/blobServices/write
storageAccounts/blobServices/generateUserDelegationKey/action
storageAccounts/blobServices/containers/read
storageAccounts/blobServices/containers/write
storageAccounts/blobServices/containers/delete
""",
    """
storageAccounts/blobServices/containers/blobs/read
storageAccounts/blobServices/containers/blobs/write
storageAccounts/blobServices/containers/blobs/delete
storageAccounts/blobServices/containers/blobs/add/action
storageAccounts/blobServices/containers/blobs/move/action
""",
)

NETWORK = Provider(
    "Microsoft.Network",
    f"{PERMISSIONS}/networking (Microsoft.Network)",
    """
virtualNetworks/read
virtualNetworks/write
virtualNetworks/delete
virtualNetworks/subnets/read
virtualNetworks/subnets/write
virtualNetworks/subnets/delete
virtualNetworks/subnets/join/action
networkSecurityGroups/read
networkSecurityGroups/write
networkSecurityGroups/delete
networkSecurityGroups/securityRules/read
networkSecurityGroups/securityRules/write
networkSecurityGroups/securityRules/delete
privateEndpoints/read
privateEndpoints/write
privateEndpoints/delete
privateDnsZones/read
privateDnsZones/write
privateDnsZones/delete
""",
)

AUTHORIZATION = Provider(
    "Microsoft.Authorization",
    f"{PERMISSIONS}/management-and-governance (Microsoft.Authorization)",
    """
roleAssignments/read
roleAssignments/write
roleAssignments/delete
roleDefinitions/read
roleDefinitions/write
roleDefinitions/delete
roleEligibilityScheduleRequests/read
roleEligibilityScheduleRequests/write
roleAssignmentScheduleRequests/read
roleAssignmentScheduleRequests/write
roleManagementPolicies/read
roleManagementPolicies/write
policyAssignments/read
policyAssignments/write
policyAssignments/delete
policyDefinitions/read
policyDefinitions/write
policyDefinitions/delete
locks/read
locks/write
locks/delete
elevateAccess/action
""",
)

RESOURCES = Provider(
    "Microsoft.Resources",
    f"{PERMISSIONS}/management-and-governance (Microsoft.Resources)",
    """
subscriptions/resourceGroups/read
subscriptions/resourceGroups/write
subscriptions/resourceGroups/delete
deployments/read
deployments/write
deployments/delete
deploymentStacks/read
deploymentStacks/write
deploymentStacks/delete
""",
)

_namespace, _page, _actions, _data_actions = operations_aks.CONTAINER_SERVICE
CONTAINER_SERVICE = Provider(_namespace, f"{PERMISSIONS}/{_page}", _actions, _data_actions)

PROVIDERS = (
    ML,
    ML_OUTBOUND_RULES,
    KEY_VAULT,
    STORAGE,
    NETWORK,
    AUTHORIZATION,
    RESOURCES,
    CONTAINER_SERVICE,
)


@cache
def _table() -> dict[str, Operation]:
    out: dict[str, Operation] = {}
    for provider in PROVIDERS:
        for block, data in ((provider.actions, False), (provider.data_actions, True)):
            for line in block.split():
                name = f"{provider.namespace}/{line}"
                out[name.lower()] = Operation(name, data, provider.source)
    return out


def namespaces() -> frozenset[str]:
    return frozenset(p.namespace.lower() for p in PROVIDERS)


def lookup(operation: str) -> Operation | None:
    """The published operation (case-insensitive, as Azure matches), or None if unlisted."""
    return _table().get(operation.lower())


def namespace_of(operation: str) -> str:
    return operation.split("/", 1)[0]


def vendored(operation: str) -> bool:
    """Whether the operation's resource provider is one this table lists."""
    return namespace_of(operation).lower() in namespaces()


def all_operations() -> list[Operation]:
    return list(_table().values())


def similar(operation: str, limit: int = 3) -> list[str]:
    """Published operations spelled most like `operation`, for a did-you-mean hint."""
    import difflib

    names = {k: o.name for k, o in _table().items()}
    close = difflib.get_close_matches(operation.lower(), list(names), n=limit, cutoff=0.8)
    return [names[c] for c in close]
