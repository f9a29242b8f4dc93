"""The shared AKS cluster's part per team: its namespace, quota, network policy, instance type,
the workspace's Kubernetes compute in that namespace, and how the namespaces get there.

Namespaces, quotas and network policies are Kubernetes objects, not ARM resources. The
cluster is private (no API server reachable from where `mlops provision` runs), and Azure ML
needs a compute's namespace to exist before it attaches the cluster ("The namespace must be
created in the Kubernetes cluster before the cluster can be attached", /azure/machine-
learning/reference-yaml-compute-kubernetes). So the objects are rendered into the platform
repository (infra/<env>/kubernetes/, committed and reviewed like the templates) and the
environment's template installs the cluster's GitOps extension (Flux v2, /azure/azure-arc/
kubernetes/conceptual-gitops-flux2) with a Flux configuration that reconciles that folder;
each team's compute depends on it, and the configuration waits for the reconciliation, so
ARM attaches a compute only once its namespace exists. Flux also puts back a quota or policy
someone deleted by hand (`prune`, drift correction).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mlops.config.root import Config
from mlops.errors import ConfigError, Issue
from mlops.rbac.model import AKS_NAMESPACE
from mlops.render.arm import Resource, Template, quote
from mlops.render.infra._common import API
from mlops.render.infra.teams import TEAM_TAG, TeamResource, TeamWorkspace, names

#: Microsoft's default instance type, used when a team names none: "requests: cpu 100m,
#: memory 2Gi; limits: cpu 2, memory 2Gi" (/azure/machine-learning/how-to-manage-kubernetes-
#: instance-types, "Default instance type")
INSTANCE_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "2Gi"},
    "limits": {"cpu": "2", "memory": "2Gi"},
}
#: what each container without its own requests and limits gets in a team's namespace: with a
#: ResourceQuota on cpu and memory, "every new Pod in that namespace must set a limit" or be
#: refused (kubernetes.io/docs/concepts/policy/resource-quotas); Azure ML's side containers
#: get these
CONTAINER_DEFAULTS = {
    "default": {"cpu": "500m", "memory": "512Mi"},
    "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
}
#: where the flux configuration reconciles from, in the platform repository
FOLDER = "infra/{env}/kubernetes"
FLUX_NAMESPACE = "flux-system"
#: Flux's source controller, the service account the identity's federated credential names
#: (/azure/azure-arc/kubernetes/tutorial-use-gitops-flux2, "Workload identity in AKS
#: clusters"); the README's one-time step uses it
FLUX_SUBJECT = "system:serviceaccount:flux-system:source-controller"


def _quantity(value: str, times: int) -> str:
    """`times` x a Kubernetes quantity (2, 0.5, 100m, 2Gi, 1500Mi), in the same unit."""
    number = value.rstrip("kmMGTPEi")
    total = Decimal(number) * times
    text = format(total.normalize(), "f") if total else "0"
    return text + value[len(number) :]


def instance_resources(config: Config, team: str) -> dict[str, dict[str, str]]:
    """The requests and limits of `team`'s instance type: its `quotas.instance_type` for both
    (each instance gets exactly what it asks for), else Microsoft's default above."""
    size = config.teams[team].quotas.instance_type
    if size is None:
        return INSTANCE_RESOURCES
    wanted = {"cpu": size.cpu, "memory": size.memory}
    return {"requests": dict(wanted), "limits": dict(wanted)}


def manifests(config: Config, env: str) -> dict[str, Any]:
    """The Kubernetes objects of the teams in `env`'s cluster, as one `List`."""
    items: list[dict[str, Any]] = []
    for team in sorted(config.teams):
        team_names = names(config, env, team)
        resources = instance_resources(config, team)
        ns = team_names.namespace
        labels = {TEAM_TAG: team, "app.kubernetes.io/managed-by": "mlops"}
        items.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}}
        )
        # an Azure ML InstanceType is a cluster-scoped custom resource the extension installs
        # (how-to-manage-kubernetes-instance-types, "Create a custom instance type")
        items.append(
            {
                "apiVersion": "amlarc.azureml.com/v1alpha1",
                "kind": "InstanceType",
                "metadata": {"name": team_names.instance_type, "labels": labels},
                "spec": {"resources": resources},
            }
        )
        meta = {"namespace": ns, "labels": labels}
        items.append(
            {
                "apiVersion": "v1",
                "kind": "LimitRange",
                "metadata": {"name": "container-defaults", **meta},
                "spec": {"limits": [{"type": "Container", **CONTAINER_DEFAULTS}]},
            }
        )
        instances = config.teams[team].quotas.endpoint_instances.get(env)
        if instances is not None:
            hard = {
                f"{kind}.{resource}": _quantity(value, instances)
                for kind in ("requests", "limits")
                for resource, value in resources[kind].items()
            }
            items.append(
                {
                    "apiVersion": "v1",
                    "kind": "ResourceQuota",
                    "metadata": {"name": "endpoint-instances", **meta},
                    "spec": {"hard": hard},
                }
            )
        # ingress only from the team's own pods and from the Azure ML inference router
        # (azureml-fe, in the extension's namespace); every other team's pods are refused.
        # The cluster enforces NetworkPolicy (networkPolicy: azure, aks.py)
        items.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "same-team-and-router-only", **meta},
                "spec": {
                    "podSelector": {},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [
                                {"podSelector": {}},
                                {
                                    "namespaceSelector": {
                                        "matchLabels": {
                                            "kubernetes.io/metadata.name": AKS_NAMESPACE
                                        }
                                    }
                                },
                            ]
                        }
                    ],
                },
            }
        )
    return {"apiVersion": "v1", "kind": "List", "items": items}


def kustomization() -> dict[str, Any]:
    """What Flux builds from the folder: the one list of objects."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": ["teams.json"],
    }


def files(config: Config) -> dict[str, Any]:
    """Path under infra/ to document, for each environment with a cluster and teams."""
    if not config.teams or config.deployment.target != "kubernetes":
        return {}
    out: dict[str, Any] = {}
    for env in config.environments.azure:
        folder = FOLDER.format(env=env).removeprefix("infra/")
        # kustomize reads a file named kustomization.yaml; JSON is YAML
        out[f"{folder}/kustomization.yaml"] = kustomization()
        out[f"{folder}/teams.json"] = manifests(config, env)
    return out


def repository_url(config: Config) -> str:
    """The platform repository's HTTPS clone URL in Azure DevOps, which Flux pulls."""
    devops = config.devops
    missing = [f for f in ("organization_url", "project", "repository") if not getattr(devops, f)]
    if missing:
        raise ConfigError(
            "the teams' Kubernetes objects are pulled from the platform repository by Flux",
            issues=[
                Issue(
                    f"devops.{f}",
                    "is needed with teams and deployment.target kubernetes",
                    "name the Azure DevOps organisation, project and repository of this platform",
                    loc=("devops", f),
                )
                for f in missing
            ],
        )
    org = str(devops.organization_url).rstrip("/")
    return f"{org}/{devops.project}/_git/{devops.repository}"


def flux_client_id(config: Config) -> str:
    platform = config.identities.platform
    if platform is None:
        raise ConfigError(
            "Flux signs in to Azure DevOps with the platform identity (workload identity)",
            issues=[
                Issue(
                    "identities.platform",
                    "is needed with teams and deployment.target kubernetes",
                    "declare the identity infra.yml provisions with (client_id, object_id)",
                    loc=("identities", "platform"),
                )
            ],
        )
    return str(platform.client_id)


def team_computes(
    template: Template,
    config: Config,
    env: str,
    teams: list[TeamWorkspace],
    cluster: Resource,
    extension: Resource,
) -> None:
    """The Flux extension and configuration, then each team's compute in its namespace."""
    if not teams:
        return
    scope = f"Microsoft.ContainerService/managedClusters/{cluster.name}"
    flux = template.add(
        Resource(
            "Microsoft.KubernetesConfiguration/extensions",
            API["k8s_extension"],
            "flux",
            {
                "extensionType": "microsoft.flux",
                "autoUpgradeMinorVersion": True,
                "releaseTrain": "stable",
                "scope": {"cluster": {"releaseNamespace": FLUX_NAMESPACE}},
                # the source controller pulls with Entra ID, no PAT or SSH key: "create the
                # flux extension ... --config workloadIdentity.enable=true
                # workloadIdentity.azureClientId=<client_id>" (/azure/azure-arc/kubernetes/
                # tutorial-use-gitops-flux2, "Workload identity in AKS clusters")
                "configurationSettings": {
                    "workloadIdentity.enable": "true",
                    "workloadIdentity.azureClientId": flux_client_id(config),
                },
            },
            location=None,
            tags=False,
            depends_on=(cluster,),
            scope=scope,
        )
    )
    configuration = template.add(
        Resource(
            "Microsoft.KubernetesConfiguration/fluxConfigurations",
            API["flux"],
            "teams",
            {
                "scope": "cluster",
                "namespace": FLUX_NAMESPACE,
                "sourceKind": "GitRepository",
                "suspend": False,
                # provider Azure: Azure DevOps with workload identity
                # (/azure/templates/microsoft.kubernetesconfiguration/fluxconfigurations,
                # GitRepositoryDefinition.provider)
                "gitRepository": {
                    "url": repository_url(config),
                    "provider": "Azure",
                    "repositoryRef": {"branch": "main"},
                    "syncIntervalInSeconds": 300,
                    "timeoutInSeconds": 600,
                },
                "kustomizations": {
                    "teams": {
                        "path": "./" + FOLDER.format(env=env),
                        "prune": True,
                        "wait": True,
                        "syncIntervalInSeconds": 300,
                        "timeoutInSeconds": 600,
                    }
                },
                # ARM returns once Flux has applied the folder: the namespaces exist
                # before the computes below attach to them
                "waitForReconciliation": True,
                "reconciliationWaitDuration": "PT15M",
            },
            location=None,
            tags=False,
            # the Azure ML extension installs the InstanceType custom resource definition
            depends_on=(flux, extension),
            scope=scope,
        )
    )
    for team in teams:
        body = {
            "computeType": "Kubernetes",
            "resourceId": cluster.id,
            "properties": {
                "namespace": team.names.namespace,
                "defaultInstanceType": team.names.instance_type,
                "instanceTypes": {
                    team.names.instance_type: {"resources": instance_resources(config, team.team)}
                },
            },
        }
        template.add(
            TeamResource(
                "Microsoft.MachineLearningServices/workspaces/computes",
                API["ml"],
                f"{team.workspace.name}/aks",
                template.variable(f"compute-aks-{team.team}", body),
                identity={"type": "SystemAssigned"},
                depends_on=(team.workspace, extension, configuration),
                extra_tags=((TEAM_TAG, team.team),),
            )
        )
    # what the platform identity's federated credential names, once per cluster (README)
    template.outputs["fluxFederatedSubject"] = {"type": "string", "value": FLUX_SUBJECT}
    template.outputs["kubernetesOidcIssuer"] = {
        "type": "string",
        "value": f"[reference({cluster.id_ref}, {quote(cluster.api_version)})"
        ".oidcIssuerProfile.issuerURL]",
    }
