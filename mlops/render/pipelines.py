"""`.azuredevops/`: the CI, continuous-training, CD and infrastructure pipelines, from mlops.yaml.

Built as data and dumped as YAML (never text templates), like the ARM templates. Shared steps
live in `templates/` and are referenced, not copied. Nothing fails silently: no
`continueOnError`, every script starts with `set -euo pipefail`, test results and coverage
are published even when tests fail, and the step still fails the job.

Each environment's stages run on that environment's Managed DevOps Pool (the agents inside
its network, which is the only way to reach a private workspace) and sign in to Azure through
that environment's service connection (workload identity federation, no secret).
"""

from __future__ import annotations

from typing import Any

from mlops.config.root import Config

FOLDER = ".azuredevops"
SETUP = "templates/setup.yml"
AZURE = "templates/azure.yml"
PYTHON = "3.11"


def connection(config: Config, env: str) -> str:
    """The service connection of an environment (or `platform`)."""
    return f"{config.azure.name_prefix}-{config.project.name}-{env}".strip("-")


def variable_group(config: Config, env: str) -> str:
    return f"{config.azure.name_prefix}-{config.project.name}-{env}".strip("-")


def pipeline_name(config: Config, kind: str) -> str:
    return f"{config.project.name}-{kind}"


def _envs(config: Config) -> list[str]:
    return list(config.environments.azure)


def _pool(config: Config, env: str | None = None) -> dict[str, str]:
    if env is None:
        return {"name": config.devops.agent_pool or ""}
    return {"name": config.environment_names(env).agent_pool}


def _script(text: str, name: str) -> dict[str, Any]:
    return {"script": "set -euo pipefail\n" + text.strip() + "\n", "displayName": name}


def _azure(config: Config, env: str, name: str, script: str) -> dict[str, Any]:
    return {
        "template": AZURE,
        "parameters": {
            "serviceConnection": connection(config, env),
            "displayName": name,
            "script": script.strip() + "\n",
        },
    }


def setup_template() -> dict[str, Any]:
    return {
        "parameters": [{"name": "python", "type": "string", "default": PYTHON}],
        "steps": [
            {"checkout": "self", "fetchDepth": 0},
            {
                "task": "UsePythonVersion@0",
                "displayName": "Python ${{ parameters.python }}",
                "inputs": {"versionSpec": "${{ parameters.python }}"},
            },
            _script(
                'python -m pip install --upgrade pip\npython -m pip install -e ".[dev]"',
                "Install the project and mlops",
            ),
        ],
    }


def azure_template() -> dict[str, Any]:
    """A script signed in to Azure through a service connection (workload identity
    federation): `az` is logged in, so mlops' DefaultAzureCredential uses it."""
    return {
        "parameters": [
            {"name": "serviceConnection", "type": "string"},
            {"name": "displayName", "type": "string"},
            {"name": "script", "type": "string"},
        ],
        "steps": [
            {
                "task": "AzureCLI@2",
                "displayName": "${{ parameters.displayName }}",
                "inputs": {
                    "azureSubscription": "${{ parameters.serviceConnection }}",
                    "scriptType": "bash",
                    "scriptLocation": "inlineScript",
                    "inlineScript": "set -euo pipefail\n${{ parameters.script }}",
                },
            }
        ],
    }


def ci(config: Config) -> dict[str, Any]:
    """Pull requests (through the branch policy) and every branch push."""
    return {
        "trigger": {"branches": {"include": ["*"]}},
        "pool": _pool(config),
        "steps": [
            {"template": SETUP},
            _script("ruff check .\nruff format --check .", "Lint"),
            _script(
                "pytest --junitxml=test-results.xml --cov=src --cov-report=xml:coverage.xml",
                "Tests",
            ),
            {
                "task": "PublishTestResults@2",
                "displayName": "Publish test results",
                "condition": "succeededOrFailed()",
                "inputs": {
                    "testResultsFormat": "JUnit",
                    "testResultsFiles": "test-results.xml",
                    "failTaskOnFailedTests": True,
                },
            },
            {
                # @1: the Azure Pipelines schema that check-jsonschema ships has no @2 yet
                "task": "PublishCodeCoverageResults@1",
                "displayName": "Publish coverage",
                "condition": "succeededOrFailed()",
                "inputs": {"codeCoverageTool": "Cobertura", "summaryFileLocation": "coverage.xml"},
            },
            _script("mlops render --check", "Rendered files are current"),
            _script("mlops validate", "Azure ML YAML loads"),
            _script("mlops run --env local", "Train on the sample data"),
        ],
    }


def ct(config: Config) -> dict[str, Any]:
    """On the default branch (code, pipelines, data config) and weekly: train in the first
    environment, publish the gate's decision and, when it promoted, the model reference;
    a promoted version is copied into the shared registry for the next environment."""
    envs = _envs(config)
    dev = envs[0]
    branch = config.devops.default_branch
    out = "$(Build.ArtifactStagingDirectory)/ct"
    promote = f'  mlops promote "$model" --to {envs[1]}\n' if len(envs) > 1 else ""
    script = f"""
mkdir -p "{out}"
mlops run --env {dev} --timeout 240 --output json > "{out}/run.json"
model=$(jq -r '.model // empty' "{out}/run.json")
if [ -n "$model" ]; then
{promote}  echo "$model" > "{out}/model.txt"
else
  echo "the gate did not promote a model: $(jq -r '.gate_reason // empty' "{out}/run.json")"
fi
"""
    return {
        "trigger": {
            "branches": {"include": [branch]},
            "paths": {"include": ["src", "pipelines", "data", "mlops.yaml"]},
        },
        "pr": "none",
        "schedules": [
            {
                "cron": "0 2 * * 1",
                "displayName": "Weekly retraining on current data",
                "branches": {"include": [branch]},
                "always": True,
            }
        ],
        "variables": [{"group": variable_group(config, dev)}],
        "pool": _pool(config, dev),
        "jobs": [
            {
                "job": "train",
                "displayName": f"Train in {dev}",
                "timeoutInMinutes": 300,
                "steps": [
                    {"template": SETUP},
                    _azure(config, dev, f"Train, gate and register in {dev}", script),
                    {
                        "task": "PublishPipelineArtifact@1",
                        "displayName": "Publish the gate's decision and the model reference",
                        "inputs": {"targetPath": out, "artifact": "ct"},
                    },
                ],
            }
        ],
    }


def cd(config: Config) -> dict[str, Any]:
    """After a completed `ct` run: the model served on the agent first, then each later
    environment in turn, each a deployment job bound to its Azure DevOps environment, whose
    approval and branch checks gate it."""
    envs = _envs(config)
    model_file = "$(Pipeline.Workspace)/ct/ct/model.txt"
    stages: list[dict[str, Any]] = [
        {
            "stage": "local",
            "displayName": "Serve on the agent",
            "pool": _pool(config, envs[0]),
            "jobs": [
                {
                    "job": "smoke",
                    "displayName": "Train, serve and smoke-test in the local inference server",
                    "steps": [{"template": SETUP}, _script("mlops up", "mlops up")],
                }
            ],
        }
    ]
    previous = "local"
    for env in envs[1:]:
        script = f"""
if [ ! -f "{model_file}" ]; then
  echo "the gate did not promote a model in this training run: nothing to deploy"
  exit 0
fi
mlops deploy --env {env} --model "$(cat "{model_file}")"
"""
        stages.append(
            {
                "stage": env,
                "displayName": f"Deploy to {env}",
                "dependsOn": previous,
                "pool": _pool(config, env),
                "variables": [{"group": variable_group(config, env)}],
                "jobs": [
                    {
                        "deployment": "deploy",
                        "displayName": f"Blue/green rollout in {env}",
                        "environment": env,
                        "strategy": {
                            "runOnce": {
                                "deploy": {
                                    "steps": [
                                        {"download": "ct", "artifact": "ct"},
                                        {"template": SETUP},
                                        _azure(config, env, f"Deploy to {env}", script),
                                    ]
                                }
                            }
                        },
                    }
                ],
            }
        )
        previous = env
    return {
        "trigger": "none",
        "pr": "none",
        "resources": {
            "pipelines": [
                {
                    "pipeline": "ct",
                    "source": pipeline_name(config, "ct"),
                    "trigger": {"branches": {"include": [config.devops.default_branch]}},
                }
            ]
        },
        "stages": stages,
    }


def infra(config: Config) -> dict[str, Any]:
    """Plan on every change to the platform's files (pull requests through the branch policy),
    provision the reviewed plan on the default branch through the `platform` environment."""
    branch = config.devops.default_branch
    out = "$(Build.ArtifactStagingDirectory)/plan"
    plan = f"""
mkdir -p "{out}"
mlops render --check
mlops plan --out "{out}/plan.json" | tee "{out}/plan.txt"
{{ echo '```text'; cat "{out}/plan.txt"; echo '```'; }} > "{out}/plan.md"
echo "##vso[task.uploadsummary]{out}/plan.md"
"""
    provision = 'mlops provision --plan "$(Pipeline.Workspace)/plan/plan.json" --yes'
    return {
        "trigger": {
            "branches": {"include": [branch]},
            "paths": {"include": ["infra", "mlops.yaml"]},
        },
        "pr": "none",
        "pool": _pool(config),
        "stages": [
            {
                "stage": "plan",
                "displayName": "Plan",
                "jobs": [
                    {
                        "job": "plan",
                        "steps": [
                            {"template": SETUP},
                            _azure(config, "platform", "mlops plan", plan),
                            {
                                "task": "PublishPipelineArtifact@1",
                                "displayName": "Publish the plan",
                                "inputs": {"targetPath": out, "artifact": "plan"},
                            },
                        ],
                    }
                ],
            },
            {
                "stage": "provision",
                "displayName": "Provision",
                "dependsOn": "plan",
                "condition": "and(succeeded(), eq(variables['Build.SourceBranch'],"
                f" 'refs/heads/{branch}'), ne(variables['Build.Reason'], 'PullRequest'))",
                "jobs": [
                    {
                        "deployment": "provision",
                        "displayName": "Apply the reviewed plan",
                        "environment": "platform",
                        "strategy": {
                            "runOnce": {
                                "deploy": {
                                    "steps": [
                                        {"download": "current", "artifact": "plan"},
                                        {"template": SETUP},
                                        _azure(config, "platform", "mlops provision", provision),
                                    ]
                                }
                            }
                        },
                    }
                ],
            },
        ],
    }


def pipeline_files(config: Config) -> dict[str, dict[str, Any]]:
    """Path under `.azuredevops/` -> the document; none when there is no Azure environment."""
    if not config.environments.azure:
        return {}
    return {
        "ci.yml": ci(config),
        "ct.yml": ct(config),
        "cd.yml": cd(config),
        "infra.yml": infra(config),
        SETUP: setup_template(),
        AZURE: azure_template(),
    }
