"""Production data collection: the local endpoint's setting, and the environment check.

The scoring script logs through azureml-ai-monitoring's Collector, which the deployment's
environment must install ("Install the azureml-ai-monitoring package" in
https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data; the
examples' scoring environment lists it: Azure/azureml-examples cli/monitoring/
azureml-e2e-model-monitoring/environments/score.yaml). Azure ML's curated environments do
not, so collection with one of them would collect nothing, silently: refused here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mlops.errors import ConfigError

if TYPE_CHECKING:
    from mlops.backends.local.serving import Collection
    from mlops.config import LoadedConfig
    from mlops.config.root import Config

PACKAGE = "azureml-ai-monitoring"
_CURATED = re.compile(
    r"azureml://registries/azureml/environments/(?P<asset>[^/]+)/.*"
    r"|azureml:(?P<name>AzureML-[^:@]+)(?:[:@].*)?",
    re.IGNORECASE,
)


def check_environment(config: Config) -> None:
    """With monitoring.collection on, refuse a curated deployment.environment whose
    published packages lack azureml-ai-monitoring (ConfigError naming the field)."""
    from mlops.environments.curated import lookup

    reference = config.deployment.environment or ""
    match = _CURATED.fullmatch(reference)
    if not config.monitoring.collection or match is None:
        return
    curated = lookup(match["asset"] or match["name"])
    if curated is None or any(p.startswith(PACKAGE) for p in curated.pip):
        return
    raise ConfigError(
        f"monitoring.collection needs {PACKAGE} in deployment.environment, and the curated"
        f" {curated.name} ({reference}) does not install it: nothing would be collected",
        hint="point deployment.environment at an environment whose conda file installs"
        f" azureml-inference-server-http, {PACKAGE} and the model's libraries, or set"
        " monitoring.collection: false",
    )


def local_collection(
    loaded: LoadedConfig, model: str, version: str, *, isolated: bool
) -> Collection | None:
    """What the local endpoint serving `model:version` collects: None when
    monitoring.collection is off; otherwise the folder of its deployment's data.

    `isolated`: the server runs in deployment.environment (else in this CLI's environment);
    either must hold azureml-ai-monitoring, or ConfigError says how to get it."""
    import importlib.util

    from mlops.backends.local.serving import Collection, collection_folder, deployment_name
    from mlops.services.run import state_dir

    monitoring = loaded.config.monitoring
    if not monitoring.collection:
        return None
    if isolated:
        check_environment(loaded.config)
    elif importlib.util.find_spec("azureml.ai.monitoring") is None:
        raise ConfigError(
            f"monitoring.collection needs {PACKAGE}, which this CLI's environment (--env-mode"
            " current) does not have: nothing would be collected",
            hint=f"pip install {PACKAGE}, or set monitoring.collection: false",
        )
    endpoint = str(loaded.config.deployment.endpoint_name)
    return Collection(
        folder=collection_folder(state_dir(loaded), endpoint, model, version),
        source=f"local:{endpoint}/{deployment_name(model, version)}",
        sampling_rate=monitoring.sampling_rate,
    )
