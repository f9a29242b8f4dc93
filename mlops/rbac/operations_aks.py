"""Microsoft.ContainerService operations that the AKS roles of the platform name, kept as data.

The subset of Microsoft's published list (/azure/role-based-access-control/permissions/
containers, Microsoft.ContainerService) that the Cluster User, RBAC Reader and RBAC Writer
roles grant, written from that page without a row-by-row copy: re-check a name against the
page before relying on it. The Kubernetes objects are data actions (Azure RBAC for
Kubernetes authorization evaluates them: /azure/aks/manage-azure-rbac).
"""

from __future__ import annotations

#: Kubernetes resources the RBAC Reader and Writer roles name
_OBJECTS = (
    "apps/controllerrevisions",
    "apps/daemonsets",
    "apps/deployments",
    "apps/replicasets",
    "apps/statefulsets",
    "autoscaling/horizontalpodautoscalers",
    "batch/cronjobs",
    "batch/jobs",
    "configmaps",
    "coordination.k8s.io/leases",
    "discovery.k8s.io/endpointslices",
    "endpoints",
    "events",
    "events.k8s.io/events",
    "extensions/daemonsets",
    "extensions/deployments",
    "extensions/ingresses",
    "extensions/networkpolicies",
    "extensions/replicasets",
    "limitranges",
    "namespaces",
    "networking.k8s.io/ingresses",
    "networking.k8s.io/networkpolicies",
    "persistentvolumeclaims",
    "pods",
    "policy/poddisruptionbudgets",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "serviceaccounts",
    "services",
    "rbac.authorization.k8s.io/roles",
    "rbac.authorization.k8s.io/rolebindings",
)

#: (namespace, source page under the permissions reference, actions, data actions), one
#: operation a line relative to the namespace, as mlops.rbac.operations.Provider takes them
CONTAINER_SERVICE = (
    "Microsoft.ContainerService",
    "containers (Microsoft.ContainerService)",
    """
managedClusters/read
managedClusters/write
managedClusters/delete
managedClusters/listClusterUserCredential/action
managedClusters/listClusterAdminCredential/action
managedClusters/runCommand/action
""",
    "\n".join(
        [f"managedClusters/{o}/{verb}" for o in _OBJECTS for verb in ("read", "write", "delete")]
        + ["managedClusters/metrics.k8s.io/pods/read", "managedClusters/metrics.k8s.io/nodes/read"]
        + ["managedClusters/pods/exec/action"]
    ),
)
