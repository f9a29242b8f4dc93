"""Outbound rules as data: NSG service-tag rules and Azure Firewall rules, each with its source.

Sources are learn.microsoft.com paths (prefix https://learn.microsoft.com). A rule that names
a region takes it from the template's `location` parameter, written `{region}` here.
Re-check the live list of a workspace with the endpoint the firewall article gives:
GET https://<region>.api.azureml.ms/rp/workspaces/<workspace id>
    /outboundNetworkDependenciesEndpoints
"""

from __future__ import annotations

from dataclasses import dataclass

FW = "/azure/machine-learning/how-to-access-azureml-behind-firewall"
TRN = "/azure/machine-learning/how-to-secure-training-vnet"
PIA = "/azure/machine-learning/includes/machine-learning-public-internet-access"  # include
REC = "/azure/machine-learning/includes/recommended-network-outbound"  # include of FW
AKSE = "/azure/aks/outbound-rules-control-egress"
MDP = "/azure/devops/managed-devops-pools/configure-networking"
BAS = "/azure/bastion/bastion-nsg"


@dataclass(frozen=True)
class TagRule:
    """An outbound allow rule to a service tag, for an NSG and an Azure Firewall network rule."""

    name: str
    tag: str  # may contain {region}
    protocol: str  # Tcp, Udp or * (any)
    ports: tuple[str, ...]
    source: str  # where Microsoft documents it


@dataclass(frozen=True)
class FqdnRule:
    """An Azure Firewall application rule: HTTP(S) to these host names."""

    name: str
    fqdns: tuple[str, ...]  # may contain {region}
    source: str
    http: bool = False  # port 80 as well as 443


# Outbound from no-public-IP Azure ML compute (clusters, instances, serverless):
# FW "Inbound and outbound requirements", TRN "Compute instance/cluster with no public IP",
# PIA (the service tag table both include).
TRAINING_TAGS = (
    TagRule("aad", "AzureActiveDirectory", "Tcp", ("80", "443"), FW),
    TagRule("aml", "AzureMachineLearning", "Tcp", ("443", "18881"), FW),
    TagRule("aml-lifecycle", "AzureMachineLearning", "Udp", ("5831",), TRN),
    TagRule("batch", "BatchNodeManagement.{region}", "*", ("443",), TRN),
    TagRule("arm", "AzureResourceManager", "Tcp", ("443",), FW),
    # 445: compute mounts the default storage's file share (TRN "Keep 445 open")
    TagRule("storage", "Storage.{region}", "Tcp", ("443", "445"), TRN),
    TagRule("frontdoor", "AzureFrontDoor.FirstParty", "Tcp", ("443",), FW),
    TagRule("mcr", "MicrosoftContainerRegistry.{region}", "Tcp", ("443",), PIA),
    TagRule("monitor", "AzureMonitor", "Tcp", ("443",), FW),  # no Private Link Scope yet
    # private endpoints of the workspace, storage (445 too), Key Vault and ACR
    TagRule("private-endpoints", "VirtualNetwork", "Tcp", ("443", "445"), FW),
)

# Host names for the same compute through a firewall: FW "Azure Machine Learning hosts".
TRAINING_FQDNS = (
    FqdnRule("entra-and-arm", ("login.microsoftonline.com", "management.azure.com"), FW),
    FqdnRule(
        "aml-hosts",
        (
            "ml.azure.com",
            "*.azureml.ms",
            "*.azureml.net",
            "*.modelmanagement.azureml.net",
            "*.notebooks.azure.net",
            "graph.microsoft.com",
            "graph.windows.net",
            "*.aznbcontent.net",
            "*.instances.azureml.net",
            "*.instances.azureml.ms",
        ),
        FW,
    ),
    FqdnRule(
        "batch-hosts", ("*.{region}.batch.azure.com", "*.{region}.service.batch.azure.com"), FW
    ),
    FqdnRule(
        "microsoft-storage",
        ("*.blob.core.windows.net", "*.table.core.windows.net", "*.queue.core.windows.net"),
        FW,
    ),
    FqdnRule("mcr-hosts", ("mcr.microsoft.com", "*.data.mcr.microsoft.com"), FW),
    FqdnRule(
        "app-insights",
        (
            "dc.applicationinsights.azure.com",
            "dc.applicationinsights.microsoft.com",
            "dc.services.visualstudio.com",
            "*.in.applicationinsights.azure.com",
        ),
        FW,
    ),
)

# Python packages for image builds and jobs (optional in FW/REC; network.egress.package_indexes).
PACKAGE_FQDNS = (
    FqdnRule(
        "python-packages",
        (
            "pypi.org",
            "*.pythonhosted.org",
            "anaconda.com",
            "*.anaconda.com",
            "*.anaconda.org",
            "*.pytorch.org",
            "*.tensorflow.org",
        ),
        REC,
    ),
    # Kubernetes compute training images install from Ubuntu mirrors over port 80 (FW table
    # "Kubernetes compute")
    FqdnRule(
        "ubuntu", ("archive.ubuntu.com", "security.ubuntu.com", "ppa.launchpad.net"), FW, True
    ),
)

# AKS nodes (AKSE "required outbound network rules and FQDNs", private cluster: no
# *.hcp.<region>.azmk8s.io), its cluster extensions (AKSE "Cluster extensions") and the
# Azure ML extension (FW "Kubernetes compute").
AKS_FQDNS = (
    FqdnRule(
        "aks",
        (
            "mcr.microsoft.com",
            "*.data.mcr.microsoft.com",
            "mcr-0001.mcr-msedge.net",
            "management.azure.com",
            "login.microsoftonline.com",
            "packages.microsoft.com",
            "acs-mirror.azureedge.net",
        ),
        AKSE,
    ),
    FqdnRule(
        "cluster-extensions",
        (
            "{region}.dp.kubernetesconfiguration.azure.com",
            "arcmktplaceprod.azurecr.io",
            "*.ingestion.msftcloudes.com",
            "*.microsoftmetrics.com",
            "marketplaceapi.microsoft.com",
        ),
        AKSE,
    ),
    FqdnRule(
        "azureml-extension",
        (
            "*.kusto.windows.net",
            "*.table.core.windows.net",
            "*.queue.core.windows.net",
            "*.blob.core.windows.net",
            "*.api.azureml.ms",
            "{region}.experiments.azureml.net",
        ),
        FW,
    ),
)

# Managed DevOps Pools agents: FQDNs only; Azure DevOps has no outbound service tag
# (/azure/devops/organizations/security/allow-list-ip-url).
AGENT_FQDNS = (
    FqdnRule(
        "managed-devops-pools",
        (
            "*.prod.manageddevops.microsoft.com",
            "rmprodbuilds.azureedge.net",
            "vstsagentpackage.azureedge.net",
            "download.agent.dev.azure.com",
            "*.queue.core.windows.net",
            "server.pipe.aria.microsoft.com",
            "www.microsoft.com",
            "packages.microsoft.com",
            "dl.fedoraproject.org",
        ),
        MDP,
    ),
    FqdnRule(
        "azure-devops",
        (
            "dev.azure.com",
            "*.dev.azure.com",
            "*.services.visualstudio.com",
            "*.vsblob.visualstudio.com",
            "*.vssps.visualstudio.com",
            "*.visualstudio.com",
            "login.microsoftonline.com",
            "management.azure.com",
        ),
        MDP,
    ),
    # azure.archive.ubuntu.com is plain HTTP in MDP's list
    FqdnRule(
        "ubuntu-updates",
        ("azure.archive.ubuntu.com", "security.ubuntu.com", "ppa.launchpad.net"),
        MDP,
        True,
    ),
    # the agents call Azure ML (mlops provision, az ml) and pull from ACR through the
    # private endpoints; Python packages for the pipelines' own steps
    FqdnRule("pypi", ("pypi.org", "*.pythonhosted.org"), REC),
)


def region(text: str) -> str:
    """`text` with {region} as an ARM expression on the `location` parameter."""
    if "{region}" not in text:
        return text
    return "[format('" + text.replace("{region}", "{0}") + "', parameters('location'))]"
