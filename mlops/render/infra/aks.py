"""The AKS inference target: a private cluster with the Azure ML extension, attached."""

from __future__ import annotations

from mlops.config.root import Config
from mlops.rbac.model import AKS_NAMESPACE
from mlops.render.arm import SCHEMA, Resource, Template, quote
from mlops.render.infra._common import API, compute

#: the cluster's outbound path follows network.egress: a user-assigned NAT gateway on its
#: subnet, or a route to the firewall (/azure/aks/egress-outboundtype; /azure/aks/egress-udr)
OUTBOUND_TYPE = {
    "nat_gateway": "userAssignedNATGateway",
    "firewall": "userDefinedRouting",
    "hub_firewall": "userDefinedRouting",
}


def kubernetes(
    template: Template,
    config: Config,
    env: str,
    name: str,
    workspace: Resource,
    subnet: Resource,
    vnet: Resource,
    logs: Resource,
) -> tuple[Resource, Resource]:
    """A private AKS cluster shared by the platform's model projects, attached to the
    workspace; returns the cluster and its Azure ML extension (teams attach to them too)."""
    aks = config.compute.kubernetes
    firewalls = [r for r in template.resources if r.type == "Microsoft.Network/azureFirewalls"]
    cluster = template.add(
        Resource(
            "Microsoft.ContainerService/managedClusters",
            API["aks"],
            name,
            {
                "dnsPrefix": name,
                "enableRBAC": True,
                # "disabling AKS local accounts is not supported" by the Azure ML extension
                # (/azure/machine-learning/how-to-deploy-kubernetes-extension)
                "disableLocalAccounts": False,
                "aadProfile": {"managed": True, "enableAzureRBAC": True},
                "apiServerAccessProfile": {"enablePrivateCluster": True},
                "autoUpgradeProfile": {
                    "upgradeChannel": "stable",
                    "nodeOSUpgradeChannel": "NodeImage",
                },
                "networkProfile": {
                    "networkPlugin": "azure",
                    "networkPolicy": "azure",
                    "outboundType": OUTBOUND_TYPE[config.network.egress.type],
                },
                "addonProfiles": {
                    "kubeDashboard": {"enabled": False},
                    "omsagent": {
                        "enabled": True,
                        "config": {"logAnalyticsWorkspaceResourceID": logs.id},
                    },
                    "azurepolicy": {"enabled": True},
                    "azureKeyvaultSecretsProvider": {
                        "enabled": True,
                        "config": {"enableSecretRotation": "true"},
                    },
                },
                **_workload_identity(config),
                "agentPoolProfiles": [
                    {
                        "name": "system",
                        "mode": "System",
                        "count": 2,
                        "vmSize": aks.system_vm_size,
                        "osDiskType": "Ephemeral",
                        "enableEncryptionAtHost": True,
                        "maxPods": 50,
                        "vnetSubnetID": subnet.id,
                        "nodeTaints": ["CriticalAddonsOnly=true:NoSchedule"],
                    },
                    {
                        "name": "user",
                        "mode": "User",
                        "vmSize": aks.node_vm_size,
                        "enableAutoScaling": True,
                        "minCount": aks.min_nodes,
                        "maxCount": aks.max_nodes,
                        "osDiskType": "Ephemeral",
                        "enableEncryptionAtHost": True,
                        "maxPods": 50,
                        "vnetSubnetID": subnet.id,
                    },
                ],
            },
            sku={"name": "Base", "tier": "Standard"},
            identity={"type": "SystemAssigned"},
            # with a route to the firewall, the cluster is created only once egress works
            depends_on=(vnet, logs, *firewalls),
            skips=(
                (
                    "CKV_AZURE_141",
                    "the Azure ML extension does not support disabling AKS local accounts"
                    " (/azure/machine-learning/how-to-deploy-kubernetes-extension); Entra ID"
                    " with Azure RBAC stays the way people sign in",
                ),
                (
                    "CKV_AZURE_6",
                    "private cluster: the API server has no public endpoint, and Azure refuses"
                    " authorized IP ranges on private clusters",
                ),
                (
                    "CKV_AZURE_172",
                    "secret rotation is enabled; the AKS API types addon settings as strings"
                    " ('true') and the check expects a JSON boolean",
                ),
            ),
        )
    )
    extension = _extension(template, config, env, cluster)
    template.add(
        compute(
            template,
            f"{workspace.name}/aks",
            {
                "computeType": "Kubernetes",
                "resourceId": cluster.id,
                "properties": {
                    "namespace": AKS_NAMESPACE,  # where the deployment identity reads
                    "defaultInstanceType": "defaultinstancetype",
                },
            },
            (workspace, extension),
        )
    )
    return cluster, extension


def _workload_identity(config: Config) -> dict:
    """With teams, Flux pulls their namespaces with Entra ID: the cluster issues OIDC tokens
    its workloads federate with (/azure/aks/workload-identity-deploy-cluster)."""
    if not config.teams:
        return {}
    return {
        "oidcIssuerProfile": {"enabled": True},
        "securityProfile": {"workloadIdentity": {"enabled": True}},
    }


def _base_settings(cluster: Resource, location: str) -> dict[str, str]:
    """What Microsoft's ARM template of the extension sets besides the documented keys
    (github.com/Azure/AML-Kubernetes, files/deployextension.json, `baseSettings`)."""
    return {
        "clusterId": cluster.id,
        "cluster_name": cluster.id,
        "cluster_name_friendly": cluster.name,
        "prometheus.prometheusSpec.externalLabels.cluster_name": cluster.id,
        "domain": location,
        "jobSchedulerLocation": location,
        "clusterPurpose": "FastProd",
        "servicebus.enabled": "false",
        "relayserver.enabled": "false",
        "nginxIngress.enabled": "true",
    }


def extension_settings(
    config: Config, env: str, cluster: Resource, location: str = "[parameters('location')]"
) -> dict[str, str]:
    """The extension's configuration settings: inference only, behind an internal load
    balancer, HTTPS when compute.kubernetes.tls is set. Keys and values:
    /azure/machine-learning/how-to-deploy-kubernetes-extension ("Review Azure Machine
    Learning extension configuration settings") in the ARM form of deployextension.json."""
    aks = config.compute.kubernetes
    tls = aks.tls
    settings = _base_settings(cluster, location) | {
        "enableTraining": "False",
        "enableInference": "True",
        # loadBalancer + internalLoadBalancerProvider=azure: an internal load balancer,
        # reachable only from the network (AKS only)
        "inferenceRouterServiceType": "loadBalancer",
        "internalLoadBalancerProvider": "azure",
        "scoringFe.serviceType.internalLoadBalancer": "True",
        # three router replicas "require at least three worker nodes"; the system nodes are
        # tainted CriticalAddonsOnly, so only the user pool counts
        "inferenceRouterHA": "True" if aks.min_nodes >= 3 else "False",
        # "HTTP support only for development or testing purposes"
        # (/azure/machine-learning/how-to-secure-kubernetes-online-endpoint, "Disable TLS")
        "allowInsecureConnections": "True" if tls is None else "False",
    }
    if tls is not None:
        # sslCname is "Required if allowInsecureConnections=False"
        settings["sslCname"] = tls.cname.replace("{env}", env)
        if tls.kubernetes_secret is not None:
            # "the best practice is to save the certificate and key in a Kubernetes secret in
            # the azureml namespace" (how-to-secure-kubernetes-online-endpoint, sslSecret)
            settings["scoringFe.sslSecret"] = tls.kubernetes_secret
    return dict(sorted(settings.items()))


def _extension(template: Template, config: Config, env: str, cluster: Resource) -> Resource:
    """The Azure ML extension; with a certificate from Key Vault, inside a nested deployment
    whose parameters are Key Vault references, so the PEM never appears in a file."""
    extension = Resource(
        "Microsoft.KubernetesConfiguration/extensions",
        API["k8s_extension"],
        "azureml",
        {
            "extensionType": "Microsoft.AzureML.Kubernetes",
            "autoUpgradeMinorVersion": True,
            "releaseTrain": "stable",
            "scope": {"cluster": {"releaseNamespace": "azureml"}},
            "configurationSettings": extension_settings(config, env, cluster),
        },
        location=None,
        tags=False,
        depends_on=(cluster,),
        scope=f"Microsoft.ContainerService/managedClusters/{cluster.name}",
    )
    tls = config.compute.kubernetes.tls
    if tls is None or tls.key_vault is None:
        return template.add(extension)
    vault = tls.key_vault
    properties = dict(extension.properties)  # type: ignore[arg-type]
    # the inner scope sees none of the outer parameters: the cluster's own region instead
    cluster_location = (
        f"[reference({cluster.id_ref}, {quote(cluster.api_version)}, 'Full').location]"
    )
    properties["configurationSettings"] = extension_settings(config, env, cluster, cluster_location)
    # the protected settings of deployextension.json: base64 of the PEM text
    properties["configurationProtectedSettings"] = {
        "scoringFe.sslCert": "[base64(parameters('sslCertificate'))]",
        "scoringFe.sslKey": "[base64(parameters('sslKey'))]",
    }
    inner = Resource(
        extension.type,
        extension.api_version,
        extension.name,
        properties,
        location=None,
        tags=False,
        scope=extension.scope,
    ).to_arm({})
    reference: dict[str, dict] = {}
    for parameter, secret in (
        ("sslCertificate", vault.certificate_secret),
        ("sslKey", vault.key_secret),
    ):
        reference[parameter] = {
            "reference": {
                "keyVault": {"id": vault.vault_id},
                "secretName": secret.replace("{env}", env),
            }
        }
    return template.add(
        Resource(
            "Microsoft.Resources/deployments",
            API["deployments"],
            f"{cluster.name}-azureml-extension"[:64],
            {
                "mode": "Incremental",
                # a template cannot hold a Key Vault reference, a deployment's parameters can
                # (/azure/azure-resource-manager/templates/key-vault-parameter); inner scope,
                # so the secure values stay out of the outer deployment's history
                "expressionEvaluationOptions": {"scope": "Inner"},
                "parameters": reference,
                "template": {
                    "$schema": SCHEMA,
                    "contentVersion": "1.0.0.0",
                    "parameters": {
                        "sslCertificate": {"type": "securestring"},
                        "sslKey": {"type": "securestring"},
                    },
                    "resources": [inner],
                },
            },
            location=None,
            tags=False,
            depends_on=(cluster,),
        )
    )
