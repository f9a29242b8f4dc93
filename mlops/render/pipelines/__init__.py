"""`.azuredevops/`: the CI, continuous-training, CD and infrastructure pipelines, from mlops.yaml.

Built as data and dumped as YAML (never text templates), like the ARM templates. Shared steps
live in `templates/` and are referenced, not copied. Nothing fails silently: no
`continueOnError`, every script starts with `set -euo pipefail`, test results and coverage
are published even when tests fail, and the step still fails the job.

Each environment's stages run on that environment's Managed DevOps Pool (the agents inside
its network, which is the only way to reach a private workspace) and sign in to Azure through
a service connection per purpose (workload identity federation, no secret): training in the
first environment, `promotion` (the only writer of the shared registry), and each later
environment's deployment identity. Long jobs keep their sign-in: the federated token lasts
10 minutes, so the Azure CLI task re-signs in before it expires (`keepAzSessionActive`) and
the system token is mapped for `AzurePipelinesCredential`.

A model repository bound to a platform renders ci, ct and cd only (its infrastructure is the
platform's, as are the off-hours schedules), naming its team's connections, environments and
pipelines and the platform's pools, and checks the platform repository out beside itself so
its mlops.yaml finds the platform's.

CD runs only on a real promotion: CT tags its run `promoted` only after `mlops promote`
succeeded, and cd's pipeline-resource trigger asks for that tag on the default branch; a gate
rejection is a warning and a `not-promoted` tag on the CT run, never a silent echo.
"""

from __future__ import annotations

from typing import Any

from mlops.config.root import Config
from mlops.render.pipelines._cd import cd
from mlops.render.pipelines._ci import BANDIT_LEVEL, ci
from mlops.render.pipelines._common import (
    AZURE,
    FOLDER,
    PIP_CACHE,
    PLATFORM,
    PROMOTED_TAG,
    PROMOTION,
    PYTHON,
    REJECTED_TAG,
    SETUP,
    azure_template,
    checkouts,
    connection,
    deployment_environment,
    deployment_environments,
    group_values,
    pipeline_name,
    platform_repository,
    promotion_connection,
    setup_template,
    variable_group,
    variables,
)
from mlops.render.pipelines._ct import (
    CHECK_CRON,
    CHECK_SCHEDULE,
    DECIDE_STEP,
    NO_RETRAIN_TAG,
    RETRAIN_CRON,
    RETRAIN_SCHEDULE,
    TRIGGER_VARIABLE,
    ct,
    trigger_tag,
)
from mlops.render.pipelines._endpoints import (
    SLEEP_SCHEDULE,
    WAKE_SCHEDULE,
    endpoints,
    off_hours_connection,
)
from mlops.render.pipelines._infra import infra

__all__ = [
    "AZURE",
    "BANDIT_LEVEL",
    "CHECK_CRON",
    "CHECK_SCHEDULE",
    "DECIDE_STEP",
    "FOLDER",
    "NO_RETRAIN_TAG",
    "PIP_CACHE",
    "PLATFORM",
    "PROMOTED_TAG",
    "PROMOTION",
    "PYTHON",
    "REJECTED_TAG",
    "RETRAIN_CRON",
    "RETRAIN_SCHEDULE",
    "SETUP",
    "SLEEP_SCHEDULE",
    "TRIGGER_VARIABLE",
    "WAKE_SCHEDULE",
    "azure_template",
    "cd",
    "checkouts",
    "ci",
    "connection",
    "ct",
    "deployment_environment",
    "deployment_environments",
    "endpoints",
    "group_values",
    "infra",
    "off_hours_connection",
    "pipeline_files",
    "pipeline_name",
    "platform_repository",
    "promotion_connection",
    "setup_template",
    "trigger_tag",
    "variable_group",
    "variables",
]


def pipeline_files(config: Config) -> dict[str, dict[str, Any]]:
    """Path under `.azuredevops/` -> the document; none when there is no Azure environment."""
    if not config.environments.azure:
        return {}
    if config.platform is not None:
        return _bound_files(config)
    files = {
        "ci.yml": ci(config),
        "ct.yml": ct(config),
        "cd.yml": cd(config),
        "infra.yml": infra(config),
        SETUP: setup_template(),
        AZURE: azure_template(),
    }
    if config.cost.off_hours is not None and config.cost.off_hours.environments:
        files["endpoints.yml"] = endpoints(config)
    return files


def _bound_files(config: Config) -> dict[str, dict[str, Any]]:
    """A bound model repository's pipelines: no infra.yml (the platform's infra pipeline
    provisions) and no endpoints.yml (the platform provisions no off-hours connection per
    team); each pipeline declares the platform repository its setup steps check out."""
    files = {"ci.yml": ci(config), "ct.yml": ct(config), "cd.yml": cd(config)}
    repository = platform_repository(config)
    if repository is not None:
        files = {name: _with_repository(doc, repository) for name, doc in files.items()}
    return {**files, SETUP: setup_template(config), AZURE: azure_template()}


def _with_repository(document: dict[str, Any], repository: dict[str, Any]) -> dict[str, Any]:
    """`document` with the repository in `resources.repositories`, placed after the triggers
    (repository resources are declared by the pipeline itself, not by a step template:
    /azure/devops/pipelines/repos/multi-repo-checkout)."""
    resources = {**document.get("resources", {}), "repositories": [repository]}
    out: dict[str, Any] = {}
    for key, value in document.items():
        if key in ("variables", "pool", "lockBehavior", "jobs", "stages", "steps") and (
            "resources" not in out
        ):
            out["resources"] = resources
        if key != "resources":
            out[key] = value
    out.setdefault("resources", resources)
    return out
