"""The Azure built-in roles the governance model assigns or derives from, as Azure publishes them.

Copied from the role definitions on Microsoft Learn ("Azure built-in roles", the Privileged,
General, Storage, AI + machine learning and Containers pages, checked 2026-11): `rbac check`
evaluates these exact lists, so an auditor sees what Azure would decide. Built-in role ids are the
same in every tenant.
"""

from __future__ import annotations

from mlops.rbac.permissions import Permission
from mlops.rbac.roles import Role

OWNER = Role(
    name="Owner",
    id="8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    description=(
        "Grants full access to manage all resources, including the ability to assign "
        "roles in Azure RBAC."
    ),
    permission=Permission(
        actions=("*",),
        not_actions=(),
        data_actions=(),
        not_data_actions=(),
    ),
)

CONTRIBUTOR = Role(
    name="Contributor",
    id="b24988ac-6180-42a0-ab88-20f7382dd24c",
    description=(
        "Grants full access to manage all resources, but does not allow you to assign "
        "roles in Azure RBAC, manage assignments in Azure Blueprints, or share image "
        "galleries."
    ),
    permission=Permission(
        actions=("*",),
        not_actions=(
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
            "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            "Microsoft.Subscription/cancel/action",
            "Microsoft.Subscription/enable/action",
        ),
        data_actions=(),
        not_data_actions=(),
    ),
)

READER = Role(
    name="Reader",
    id="acdd72a7-3385-48ef-bd42-f606fba81ae7",
    description="View all resources, but does not allow you to make any changes.",
    permission=Permission(
        actions=("*/read",),
        not_actions=(),
        data_actions=(),
        not_data_actions=(),
    ),
)

RBAC_ADMINISTRATOR = Role(
    name="Role Based Access Control Administrator",
    id="f58310d9-a9f6-439a-9e8d-f62e7b41a168",
    description=(
        "Manage access to Azure resources by assigning roles using Azure RBAC. This role "
        "does not allow you to manage access using other ways, such as Azure Policy."
    ),
    permission=Permission(
        actions=(
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "*/read",
            "Microsoft.Support/*",
        ),
        not_actions=(),
        data_actions=(),
        not_data_actions=(),
    ),
)

USER_ACCESS_ADMINISTRATOR = Role(
    name="User Access Administrator",
    id="18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    description="Lets you manage user access to Azure resources.",
    permission=Permission(
        actions=(
            "*/read",
            "Microsoft.Authorization/*",
            "Microsoft.Support/*",
        ),
        not_actions=(),
        data_actions=(),
        not_data_actions=(),
    ),
)

AZUREML_DATA_SCIENTIST = Role(
    name="AzureML Data Scientist",
    id="f6c7c914-8db3-469d-8ca1-694a8f32e121",
    description=(
        "Can perform all actions within an Azure Machine Learning workspace, except for "
        "creating or deleting compute resources and modifying the workspace itself."
    ),
    permission=Permission(
        actions=(
            "Microsoft.MachineLearningServices/workspaces/*/read",
            "Microsoft.MachineLearningServices/workspaces/*/action",
            "Microsoft.MachineLearningServices/workspaces/*/delete",
            "Microsoft.MachineLearningServices/workspaces/*/write",
        ),
        not_actions=(
            "Microsoft.MachineLearningServices/workspaces/delete",
            "Microsoft.MachineLearningServices/workspaces/write",
            "Microsoft.MachineLearningServices/workspaces/computes/*/write",
            "Microsoft.MachineLearningServices/workspaces/computes/*/delete",
            "Microsoft.MachineLearningServices/workspaces/computes/listKeys/action",
            "Microsoft.MachineLearningServices/workspaces/listKeys/action",
            "Microsoft.MachineLearningServices/workspaces/hubs/write",
            "Microsoft.MachineLearningServices/workspaces/hubs/delete",
            "Microsoft.MachineLearningServices/workspaces/featurestores/write",
            "Microsoft.MachineLearningServices/workspaces/featurestores/delete",
        ),
        data_actions=(),
        not_data_actions=(),
    ),
)

AZUREML_COMPUTE_OPERATOR = Role(
    name="AzureML Compute Operator",
    id="e503ece1-11d0-4e8e-8e2c-7a6c3bf38815",
    description=(
        "Can access and perform CRUD operations on Machine Learning Services managed "
        "compute resources (including Notebook VMs)."
    ),
    permission=Permission(
        actions=(
            "Microsoft.MachineLearningServices/workspaces/computes/*",
            "Microsoft.MachineLearningServices/workspaces/notebooks/vm/*",
        ),
        not_actions=(),
        data_actions=(),
        not_data_actions=(),
    ),
)

AZUREML_REGISTRY_USER = Role(
    name="AzureML Registry User",
    id="1823dd4f-9b8c-4ab6-ab4e-7397a3684615",
    description=(
        "Can perform all actions on Machine Learning Services Registry assets as well as "
        "get Registry resources."
    ),
    permission=Permission(
        actions=(
            "Microsoft.MachineLearningServices/registries/read",
            "Microsoft.MachineLearningServices/registries/assets/*",
        ),
        not_actions=(),
        data_actions=(),
        not_data_actions=(),
    ),
)

STORAGE_BLOB_DATA_CONTRIBUTOR = Role(
    name="Storage Blob Data Contributor",
    id="ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    description=(
        "Allows for read, write and delete access to Azure Storage blob containers and data"
    ),
    permission=Permission(
        actions=(
            "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
            "Microsoft.Storage/storageAccounts/blobServices/containers/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/write",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ),
        not_actions=(),
        data_actions=(
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
            "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
        ),
        not_data_actions=(),
    ),
)

STORAGE_BLOB_DATA_READER = Role(
    name="Storage Blob Data Reader",
    id="2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    description="Allows for read access to Azure Storage blob containers and data",
    permission=Permission(
        actions=(
            "Microsoft.Storage/storageAccounts/blobServices/containers/read",
            "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
        ),
        not_actions=(),
        data_actions=("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",),
        not_data_actions=(),
    ),
)

#: Azure Kubernetes Service roles (the Containers page of "Azure built-in roles":
#: /azure/role-based-access-control/built-in-roles/containers; how AKS uses them:
#: /azure/aks/manage-azure-rbac). With Azure RBAC for Kubernetes authorization on the
#: cluster, a data action here is what the Kubernetes API allows the holder.
_AKS_READ = (
    "Microsoft.Authorization/*/read",
    "Microsoft.Resources/subscriptions/operationresults/read",
    "Microsoft.Resources/subscriptions/read",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
)
_MC = "Microsoft.ContainerService/managedClusters"

AKS_CLUSTER_USER = Role(
    name="Azure Kubernetes Service Cluster User Role",
    id="4abbcc35-e782-43d8-92c5-2d3f1bd2253f",
    description="List cluster user credential action.",
    permission=Permission(
        actions=(f"{_MC}/listClusterUserCredential/action", f"{_MC}/read"),
        not_actions=(),
        data_actions=(),
        not_data_actions=(),
    ),
)

AKS_RBAC_READER = Role(
    name="Azure Kubernetes Service RBAC Reader",
    id="7f6c6a51-bcf8-42ba-9220-52d62157d7db",
    description=(
        "Allows read-only access to see most objects in a namespace. It does not allow "
        "viewing roles or role bindings. This role does not allow viewing Secrets, since "
        "reading the contents of Secrets enables access to ServiceAccount credentials in the "
        "namespace, which would allow API access as any ServiceAccount in the namespace (a "
        "form of privilege escalation). Applying this role at cluster scope will give access "
        "across all namespaces."
    ),
    permission=Permission(
        actions=_AKS_READ,
        not_actions=(),
        data_actions=tuple(
            f"{_MC}/{x}"
            for x in (
                "apps/controllerrevisions/read",
                "apps/daemonsets/read",
                "apps/deployments/read",
                "apps/replicasets/read",
                "apps/statefulsets/read",
                "autoscaling/horizontalpodautoscalers/read",
                "batch/cronjobs/read",
                "batch/jobs/read",
                "configmaps/read",
                "discovery.k8s.io/endpointslices/read",
                "endpoints/read",
                "events.k8s.io/events/read",
                "events/read",
                "extensions/daemonsets/read",
                "extensions/deployments/read",
                "extensions/ingresses/read",
                "extensions/networkpolicies/read",
                "extensions/replicasets/read",
                "limitranges/read",
                "metrics.k8s.io/pods/read",
                "metrics.k8s.io/nodes/read",
                "namespaces/read",
                "networking.k8s.io/ingresses/read",
                "networking.k8s.io/networkpolicies/read",
                "persistentvolumeclaims/read",
                "pods/read",
                "policy/poddisruptionbudgets/read",
                "replicationcontrollers/read",
                "resourcequotas/read",
                "serviceaccounts/read",
                "services/read",
            )
        ),
        not_data_actions=(),
    ),
)

AKS_RBAC_WRITER = Role(
    name="Azure Kubernetes Service RBAC Writer",
    id="a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb",
    description=(
        "Allows read/write access to most objects in a namespace.This role does not allow "
        "viewing or modifying roles or role bindings. However, this role allows accessing "
        "Secrets and running Pods as any ServiceAccount in the namespace, so it can be used to "
        "gain the API access levels of any ServiceAccount in the namespace. Applying this role "
        "at cluster scope will give access across all namespaces."
    ),
    permission=Permission(
        actions=_AKS_READ,
        not_actions=(),
        data_actions=tuple(
            f"{_MC}/{x}"
            for x in (
                "apps/controllerrevisions/read",
                "apps/daemonsets/*",
                "apps/deployments/*",
                "apps/replicasets/*",
                "apps/statefulsets/*",
                "autoscaling/horizontalpodautoscalers/*",
                "batch/cronjobs/*",
                "coordination.k8s.io/leases/read",
                "coordination.k8s.io/leases/write",
                "coordination.k8s.io/leases/delete",
                "discovery.k8s.io/endpointslices/read",
                "batch/jobs/*",
                "configmaps/*",
                "endpoints/*",
                "events.k8s.io/events/read",
                "events/*",
                "extensions/daemonsets/*",
                "extensions/deployments/*",
                "extensions/ingresses/*",
                "extensions/networkpolicies/*",
                "extensions/replicasets/*",
                "limitranges/read",
                "metrics.k8s.io/pods/read",
                "metrics.k8s.io/nodes/read",
                "namespaces/read",
                "networking.k8s.io/ingresses/*",
                "networking.k8s.io/networkpolicies/*",
                "persistentvolumeclaims/*",
                "pods/*",
                "policy/poddisruptionbudgets/*",
                "replicationcontrollers/*",
                "resourcequotas/read",
                "secrets/*",
                "serviceaccounts/*",
                "services/*",
            )
        ),
        not_data_actions=(),
    ),
)

BUILTIN = {
    r.id: r
    for r in (
        OWNER,
        CONTRIBUTOR,
        READER,
        RBAC_ADMINISTRATOR,
        USER_ACCESS_ADMINISTRATOR,
        AZUREML_DATA_SCIENTIST,
        AZUREML_COMPUTE_OPERATOR,
        AZUREML_REGISTRY_USER,
        STORAGE_BLOB_DATA_CONTRIBUTOR,
        STORAGE_BLOB_DATA_READER,
        AKS_CLUSTER_USER,
        AKS_RBAC_READER,
        AKS_RBAC_WRITER,
    )
}
