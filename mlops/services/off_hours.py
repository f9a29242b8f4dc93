"""Non-production online endpoints asleep outside working hours (`cost.off_hours`).

A managed online deployment cannot scale to zero instances: "The online endpoint cannot be
stopped. You need to have at least one machine running" (Microsoft's answer in
Azure/mlops-v2#48; scale to zero is an open request, Azure/azureml-examples#1905). So sleep
deletes the endpoint's deployments, which is what costs money, and keeps the endpoint itself
(its name, scoring URI and role assignments) with a tag naming the model it served; waking
deploys that model again through the same blue/green release CD uses, smoke tests included.
Both are idempotent: asleep stays asleep, awake stays awake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlops.config.loader import LoadedConfig
from mlops.errors import BadInputError

if TYPE_CHECKING:
    from mlops.backends.azure.clients import AzureClients
    from mlops.services.azure_ml.workspaces import OnEvent

#: the endpoint tag that holds NAME:VERSION of the model it served before it slept
ASLEEP_TAG = "mlops.asleep"
_REGISTRY_MODEL = re.compile(r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)$")


@dataclass
class Slept:
    env: str
    endpoint: str
    model: str | None  # NAME:VERSION it served; None when it was already asleep
    removed: list[str] = field(default_factory=list)


def check_env(loaded: LoadedConfig, env: str) -> None:
    """Exit 2 unless `cost.off_hours.environments` names `env`, a non-production one."""
    config = loaded.config
    off = config.cost.off_hours
    envs = list(config.environments.azure)
    if off is None or env not in off.environments:
        raise BadInputError(
            f"{loaded.path.name}: cost.off_hours does not name environment '{env}'",
            hint=f"add it: cost:\n  off_hours:\n    environments: [{env}]",
        )
    if envs and env == envs[-1]:
        raise BadInputError(
            f"{loaded.path.name}: cost.off_hours.environments: '{env}' is the production"
            " environment (the last one), which never sleeps",
            hint="name only earlier environments, e.g. " + ", ".join(envs[:-1] or ["dev"]),
        )


def _served(model: str) -> str:
    """NAME:VERSION of a deployment's model id (a registry or workspace asset id)."""
    match = _REGISTRY_MODEL.search(model)
    return f"{match['name']}:{match['version']}" if match else model.removeprefix("azureml:")


def sleep(
    loaded: LoadedConfig, env: str, clients: AzureClients, on_event: OnEvent | None = None
) -> Slept:
    """Remove the endpoint's deployments, its traffic first, after tagging the endpoint
    with the model that took the traffic."""
    from mlops.backends.azure import aml
    from mlops.backends.azure.endpoint_tags import set_endpoint_tags
    from mlops.services.azure_ml.workspaces import workspace

    check_env(loaded, env)
    notify = on_event or (lambda *_: None)
    ml = workspace(loaded, env).client(clients)
    endpoint = loaded.config.environment_names(env).online_endpoint
    traffic = aml.endpoint_traffic(ml, endpoint)
    deployed = aml.deployments(ml, endpoint) if traffic is not None else {}
    if not deployed:
        notify("asleep", f"{endpoint} has no deployment: nothing to remove")
        return Slept(env, endpoint, None)
    serving = max(deployed, key=lambda name: (traffic or {}).get(name, 0))
    model = _served(deployed[serving])
    set_endpoint_tags(ml, endpoint, {ASLEEP_TAG: model})
    if any((traffic or {}).values()):
        aml.set_traffic(ml, endpoint, dict.fromkeys(deployed, 0))
    result = Slept(env, endpoint, model)
    for name in sorted(deployed):
        notify("removing", f"{name} from {endpoint}")
        aml.delete_deployment(ml, endpoint, name)
        result.removed.append(name)
    return result


def wake(
    loaded: LoadedConfig, env: str, clients: AzureClients, on_event: OnEvent | None = None
) -> str | None:
    """Deploy the model the endpoint served before it slept (blue/green, smoke-tested), then
    clear the tag; None when it was not asleep."""
    from mlops.backends.azure.endpoint_tags import endpoint_tags, set_endpoint_tags
    from mlops.services.azure_ml import deploy
    from mlops.services.azure_ml.workspaces import workspace

    check_env(loaded, env)
    notify = on_event or (lambda *_: None)
    ml = workspace(loaded, env).client(clients)
    endpoint = loaded.config.environment_names(env).online_endpoint
    model = (endpoint_tags(ml, endpoint) or {}).get(ASLEEP_TAG)
    if not model:
        notify("awake", f"{endpoint} is not asleep: nothing to deploy")
        return None
    deploy(loaded, env, model, clients, on_event=on_event)
    set_endpoint_tags(ml, endpoint, {ASLEEP_TAG: None})
    return model
