"""Azure ML online endpoint and deployment specs (the CLI v2 YAML shapes), from mlops.yaml.

`mlops deploy --dry-run` prints them, and `mlops deploy` loads the very same documents with
`azure-ai-ml`'s loaders, so what a reviewer reads is what is deployed. Managed endpoints and
Kubernetes endpoints on the platform's attached AKS (`deployment.target`) differ only here.
Every workspace is private, so managed endpoints take no public traffic; a deployment's egress
is the managed virtual network's (or, in `network.mode: vnet`, disabled by its own flag).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.config.root import Config
from mlops.monitoring.collection import check_environment

SCHEMAS = "https://azuremlschemas.azureedge.net/latest"
#: the name the environment template gives the AKS cluster attached to the workspace
KUBERNETES_COMPUTE = "aks"


def model_uri(config: Config, name: str, version: str | None) -> str:
    """The model a deployment serves: in the shared registry for managed endpoints; in the
    environment's own workspace for Kubernetes ones, which Azure ML cannot point at a
    registry (the loaders refuse it), so promotion copies the registry's bits there."""
    if config.deployment.target == "kubernetes":
        return f"azureml:{name}:{version}" if version else f"azureml:{name}@latest"
    registry = config.shared_names().registry
    tail = f"versions/{version}" if version else "labels/latest"
    return f"azureml://registries/{registry}/models/{name}/{tail}"


def endpoint_name(config: Config, env: str) -> str:
    """The online endpoint of Azure environment `env`: unique in its region (see `naming`)."""
    return config.environment_names(env).online_endpoint


def endpoint_spec(config: Config, env: str) -> dict[str, Any]:
    dep = config.deployment
    kubernetes = dep.target == "kubernetes"
    spec: dict[str, Any] = {
        "$schema": f"{SCHEMAS}/{_kind(kubernetes)}OnlineEndpoint.schema.json",
        "name": endpoint_name(config, env),
        "auth_mode": dep.effective_auth_mode,
    }
    if kubernetes:
        spec["compute"] = f"azureml:{KUBERNETES_COMPUTE}"
    else:
        spec["public_network_access"] = "disabled"
    spec["tags"] = {"managed_by": "mlops", "project": config.project.name}
    return spec


def deployment_spec(
    config: Config,
    env: str,
    *,
    name: str,
    model: str,
    tags: dict[str, str] | None = None,
    environment: str | None = None,
) -> dict[str, Any]:
    """The deployment of `model` (an azureml:// URI); paths are relative to the project root,
    which is where the loaders must resolve them from. `environment`: the exact version
    deploy pinned (default: deployment.environment as written)."""
    dep = config.deployment
    kubernetes = dep.target == "kubernetes"
    scoring = config.model.scoring_script if config.model else None
    script = Path(scoring) if scoring else None
    spec: dict[str, Any] = {
        "$schema": f"{SCHEMAS}/{_kind(kubernetes)}OnlineDeployment.schema.json",
        "name": name,
        "type": _kind(kubernetes),
        "endpoint_name": endpoint_name(config, env),
        "model": model,
    }
    if script is not None:
        spec["code_configuration"] = {
            "code": script.parent.as_posix() or ".",
            "scoring_script": script.name,
        }
        spec["environment"] = environment or dep.environment
    spec["instance_type"] = dep.instance_type
    spec["instance_count"] = dep.instance_count
    if not kubernetes and config.network.mode != "managed":
        # the legacy network isolation of a deployment's egress (it cannot change after
        # creation). "When you secure your workspace with a managed virtual network, the
        # egress_public_access flag for managed online deployments no longer applies. Avoid
        # setting this flag": https://learn.microsoft.com/azure/machine-learning/
        # concept-secure-online-endpoint ("Secure outbound access with workspace managed VNet")
        spec["egress_public_network_access"] = "disabled"
    if config.monitoring.collection:
        check_environment(config)  # the Collector must be installed, or nothing is collected
        spec["data_collector"] = data_collector(config)
    spec["tags"] = {"managed_by": "mlops", **(tags or {})}
    return spec


#: the collections the scoring script logs through azureml-ai-monitoring's Collector; Azure
#: ML model monitoring recognises these two names as the deployment's inputs and outputs:
#: https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data
COLLECTIONS = ("model_inputs", "model_outputs")


def data_collector(config: Config) -> dict[str, Any]:
    """Azure ML's data collector for the deployment: each collection enabled, with no `data`
    of its own, so it goes to the workspace's default blob storage under
    modelDataCollector/<endpoint>/<deployment>/<collection>/yyyy/MM/dd/HH/, one folder per
    hour (rolling_rate hour); sampling_rate (0.0-1.0) applies to every collection.
    Source: https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data
    ("Configure data collection", "Collected data storage") and
    https://learn.microsoft.com/azure/machine-learning/reference-yaml-deployment-managed-online
    (`data_collector`; `enabled` is a string there, 'True')."""
    return {
        "collections": {name: {"enabled": "True"} for name in COLLECTIONS},
        "rolling_rate": "hour",
        "sampling_rate": config.monitoring.sampling_rate,
    }


def _kind(kubernetes: bool) -> str:
    return "kubernetes" if kubernetes else "managed"
