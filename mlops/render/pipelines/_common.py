"""What every pipeline shares: names of connections, groups and pools, the step templates and
the Azure CLI steps that sign in through a service connection.

A model repository bound to a platform (`config.platform`) names its team's objects, which
the platform repository provisions (mlops/plan/devops_teams.py): the team's service
connections and environments, its pipelines, and the platform's agent pools."""

from __future__ import annotations

from typing import Any

from mlops import naming
from mlops.config.root import Config
from mlops.config.teams import team_connection, team_environment, team_pipeline

FOLDER = ".azuredevops"
SETUP = "templates/setup.yml"
AZURE = "templates/azure.yml"
PYTHON = "3.11"
#: the run tag CT sets only when the gate promoted and the model reached the registry; cd's
#: trigger requires it (tags cannot hold a colon: logging-commands docs)
PROMOTED_TAG = "promoted"
REJECTED_TAG = "not-promoted"
PROMOTION = "promotion"
PLATFORM = "platform"


def connection(config: Config, env: str) -> str:
    """The service connection of an environment, or of `promotion` or `platform`; in a
    bound model repository, its team's connection."""
    if config.platform is not None:
        return team_connection(config.azure.name_prefix, config.platform.team, env)
    return f"{config.azure.name_prefix}-{config.project.name}-{env}".strip("-")


def deployment_environment(config: Config, env: str) -> str:
    """The Azure DevOps environment cd's deployment job of `env` targets: the team's own in a
    bound model repository (its approvals include the team's engineers)."""
    if config.platform is not None:
        return team_environment(config.platform.team, env)
    return env


def promotion_connection(config: Config) -> bool:
    """Whether CT promotes through a `promotion` service connection (as
    `identities.promotion`, the only writer of the shared registry): whenever there is a
    later environment to promote to. Without that identity, `mlops config validate` warns
    and provisioning asks for it."""
    return len(_envs(config)) > 1


def deployment_environments(config: Config) -> list[str]:
    """The Azure DevOps environments deployment jobs target: each later environment, and
    `platform` (infra.yml's provision stage)."""
    return [*_envs(config)[1:], PLATFORM]


def variable_group(config: Config, env: str) -> str:
    return f"{config.azure.name_prefix}-{config.project.name}-{env}".strip("-")


def variables(config: Config, env: str) -> list[dict[str, str]]:
    """The pipeline variables of `env`'s jobs: the platform's variable group; a bound model
    repository's jobs carry the same non-secret values inline, as the platform provisions no
    variable group per team."""
    if config.platform is None:
        return [{"group": variable_group(config, env)}]
    return [{"name": k, "value": v} for k, v in sorted(group_values(config, env).items())]


def group_values(config: Config, env: str) -> dict[str, str]:
    """What `env`'s variable group holds: where the environment's workspace is."""
    names = config.environment_names(env)
    spec = config.environments.azure[env]
    return {
        "MLOPS_ENV": env,
        "AZURE_SUBSCRIPTION_ID": str(spec.subscription_id or config.azure.subscription_id or ""),
        "AZURE_RESOURCE_GROUP": names.resource_group,
        "AZUREML_WORKSPACE": names.workspace,
    }


def pipeline_name(config: Config, kind: str) -> str:
    if config.platform is not None:
        return team_pipeline(config.devops.repository or config.project.name, kind)
    return f"{config.project.name}-{kind}"


def _envs(config: Config) -> list[str]:
    return list(config.environments.azure)


def _pool(config: Config, env: str | None = None) -> dict[str, str]:
    if env is None:
        return {"name": config.devops.agent_pool or ""}
    platform = config.platform.platform_project if config.platform is not None else None
    if platform is None:
        return {"name": config.environment_names(env).agent_pool}
    # a bound model repository runs on the platform's pools, named after its project
    names = naming.environment_names(
        prefix=config.azure.name_prefix,
        project=platform,
        env=env,
        resource_group=config.environments.azure[env].resource_group or "",
        subscription_id=None,
    )
    return {"name": names.agent_pool}


def _script(text: str, name: str) -> dict[str, Any]:
    return {"script": "set -euo pipefail\n" + text.strip() + "\n", "displayName": name}


#: pip's download and wheel cache, kept between runs by Cache@2 (pipeline caching docs: a
#: folder under Pipeline.Workspace, keyed on the OS and the file that pins the dependencies)
PIP_CACHE = "$(Pipeline.Workspace)/.pip"


def checkouts(config: Config | None = None) -> list[dict[str, Any]]:
    """The checkout steps: this repository, and in a model repository bound to a platform
    repository the platform too, where `platform.path` finds its mlops.yaml.

    With two checkouts each repository goes to $(Build.SourcesDirectory)/<name> unless its
    step has a `path` (/azure/devops/pipelines/repos/multi-repo-checkout, "Checkout path";
    a path is relative to $(Agent.BuildDirectory)); `self` keeps `s`, so the working
    directory of every step and the paths they use (coverage, test results) stay the same
    (MicrosoftDocs/azure-devops-docs#6895)."""
    platform = config.platform.checkout_path() if config and config.platform else None
    if platform is None:
        return [{"checkout": "self", "fetchDepth": 0}]
    return [
        {"checkout": "self", "path": "s", "fetchDepth": 0},
        {"checkout": PLATFORM, "path": platform, "fetchDepth": 1},
    ]


def platform_repository(config: Config) -> dict[str, Any] | None:
    """The `resources.repositories` entry of the platform repository, when the binding names
    it: a repository in this project (type git, name, ref)."""
    binding = config.platform
    if binding is None or binding.repository is None:
        return None
    return {
        "repository": PLATFORM,
        "type": "git",
        "name": binding.repository,
        "ref": binding.ref,
    }


def setup_template(config: Config | None = None) -> dict[str, Any]:
    install = _script(
        'python -m pip install --upgrade pip\npython -m pip install -e ".[dev]"',
        "Install the project and mlops",
    )
    install["env"] = {"PIP_CACHE_DIR": PIP_CACHE}
    key = 'pip | "$(Agent.OS)" | "${{ parameters.python }}"'
    return {
        "parameters": [{"name": "python", "type": "string", "default": PYTHON}],
        "steps": [
            *checkouts(config),
            {
                "task": "UsePythonVersion@0",
                "displayName": "Python ${{ parameters.python }}",
                "inputs": {"versionSpec": "${{ parameters.python }}"},
            },
            {
                "task": "Cache@2",
                "displayName": "pip cache",
                "inputs": {
                    "key": f"{key} | pyproject.toml",
                    "restoreKeys": key,
                    "path": PIP_CACHE,
                },
            },
            install,
        ],
    }


def azure_template() -> dict[str, Any]:
    """A script signed in to Azure through a service connection (workload identity
    federation): `az` is logged in, so mlops' DefaultAzureCredential uses it.

    The federated token `az login` gets lasts 10 minutes and cannot be renewed by `az`
    (Azure/azure-cli#28708); `keepAzSessionActive` signs in again with a fresh token every
    8 minutes (AzureCLI@2 task.json, WIF only). The system token and the connection's ids
    (AZURESUBSCRIPTION_*, exported by the task) let `AzurePipelinesCredential` ask for a new
    federated token per sign-in instead."""
    return {
        "parameters": [
            {"name": "serviceConnection", "type": "string"},
            {"name": "displayName", "type": "string"},
            {"name": "script", "type": "string"},
            {"name": "condition", "type": "string", "default": "succeeded()"},
        ],
        "steps": [
            _azure_cli(
                "${{ parameters.serviceConnection }}",
                "${{ parameters.displayName }}",
                "${{ parameters.script }}",
                "${{ parameters.condition }}",
            )
        ],
    }


def _azure_cli(connection: str, name: str, script: str, condition: str) -> dict[str, Any]:
    """The AzureCLI@2 step of `azure_template`; a step whose outputs another job reads is
    written out with its `name` (a template's steps cannot be named from outside)."""
    return {
        "task": "AzureCLI@2",
        "displayName": name,
        "condition": condition,
        "inputs": {
            "azureSubscription": connection,
            "scriptType": "bash",
            "scriptLocation": "inlineScript",
            "inlineScript": "set -euo pipefail\n" + script,
            "keepAzSessionActive": True,
        },
        "env": {"SYSTEM_ACCESSTOKEN": "$(System.AccessToken)"},
    }


def _azure(
    config: Config, env: str, name: str, script: str, condition: str | None = None
) -> dict[str, Any]:
    parameters = {
        "serviceConnection": connection(config, env),
        "displayName": name,
        "script": script.strip() + "\n",
    }
    if condition is not None:
        parameters["condition"] = condition
    return {"template": AZURE, "parameters": parameters}


def _tag(tag: str) -> str:
    return f'echo "##vso[build.addbuildtag]{tag}"'
