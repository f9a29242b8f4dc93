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

CD runs only on a real promotion: CT tags its run `promoted` only after `mlops promote`
succeeded, and cd's pipeline-resource trigger asks for that tag on the default branch; a gate
rejection is a warning and a `not-promoted` tag on the CT run, never a silent echo.
"""

from __future__ import annotations

from typing import Any

from mlops.config.root import Config

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
    """The service connection of an environment, or of `promotion` or `platform`."""
    return f"{config.azure.name_prefix}-{config.project.name}-{env}".strip("-")


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


#: pip's download and wheel cache, kept between runs by Cache@2 (pipeline caching docs: a
#: folder under Pipeline.Workspace, keyed on the OS and the file that pins the dependencies)
PIP_CACHE = "$(Pipeline.Workspace)/.pip"


def setup_template() -> dict[str, Any]:
    install = _script(
        'python -m pip install --upgrade pip\npython -m pip install -e ".[dev]"',
        "Install the project and mlops",
    )
    install["env"] = {"PIP_CACHE_DIR": PIP_CACHE}
    key = 'pip | "$(Agent.OS)" | "${{ parameters.python }}"'
    return {
        "parameters": [{"name": "python", "type": "string", "default": PYTHON}],
        "steps": [
            {"checkout": "self", "fetchDepth": 0},
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
            {
                "task": "AzureCLI@2",
                "displayName": "${{ parameters.displayName }}",
                "condition": "${{ parameters.condition }}",
                "inputs": {
                    "azureSubscription": "${{ parameters.serviceConnection }}",
                    "scriptType": "bash",
                    "scriptLocation": "inlineScript",
                    "inlineScript": "set -euo pipefail\n${{ parameters.script }}",
                    "keepAzSessionActive": True,
                },
                "env": {"SYSTEM_ACCESSTOKEN": "$(System.AccessToken)"},
            }
        ],
    }


#: pytest's `pythonpath` and the wheel's `packages` in pyproject.toml name the project's own
#: code: `src/` in every project, and `mlops/` in the repository that holds the platform's
#: code (a generated project gets mlops from its dependencies, so it is not measured there).
#: Each step that needs the list derives it (steps share no shell)
_CODE = """
code=$(python - <<'PY'
import pathlib
import tomllib

tool = tomllib.loads(pathlib.Path("pyproject.toml").read_text()).get("tool", {})
named = tool.get("pytest", {}).get("ini_options", {}).get("pythonpath", [])
named = [named] if isinstance(named, str) else list(named)
wheel = tool.get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
named += wheel.get("packages", [])
tops = {str(entry).strip("./").split("/")[0] for entry in named} - {"", "tests"}
code = sorted(top for top in tops if pathlib.Path(top).is_dir())
if not code:
    raise SystemExit(
        "pyproject.toml names no code folder: set [tool.pytest.ini_options] pythonpath"
        " or [tool.hatch.build.targets.wheel] packages"
    )
print(" ".join(code))
PY
)
echo "the project's code: $code"
"""
#: bandit's `-l` flags: report, and fail on, findings of this severity or higher (bandit man
#: page: "-l for LOW, -ll for MEDIUM, -lll for HIGH"; it exits 1 when any finding is reported)
BANDIT_LEVEL = {"low": "-l", "medium": "-ll", "high": "-lll"}


def _security(scan: Any) -> list[dict[str, Any]]:
    """pip-audit fails on any known vulnerability in the installed dependencies: it has no
    severity filter (an open request, pypa/pip-audit#654), so mlops.yaml's severity applies
    to bandit alone, the static analysis of the project's code."""
    if scan is None:
        return []
    return [
        _script(
            "python -m pip install pip-audit bandit\n"
            "# pip-audit has no severity filter (pypa/pip-audit#654): any known vulnerability"
            " fails\n"
            "pip-audit\n" + _CODE.lstrip() + f"bandit -r $code {BANDIT_LEVEL[scan.severity]}",
            "Security: dependencies and static analysis",
        )
    ]


def _coverage(fail_under: int | None) -> str:
    """pytest measuring every code folder, a Cobertura report, and the threshold if any."""
    threshold = f" --cov-fail-under={fail_under}" if fail_under is not None else ""
    return (
        _CODE.lstrip()
        + "cov=()\n"
        + 'for path in $code; do cov+=("--cov=$path"); done\n'
        + 'pytest --junitxml=test-results.xml "${cov[@]}" --cov-report=xml:coverage.xml'
        + threshold
    )


def ci(config: Config) -> dict[str, Any]:
    """Pull requests (through the branch policy) and every branch push. Coverage measures the
    code folders pyproject.toml names, published (Cobertura) and held to
    `devops.coverage_fail_under`; the security step (`devops.security`) runs pip-audit (any
    known vulnerability fails) and bandit at mlops.yaml's severity."""
    quality = config.devops
    return {
        "trigger": {"branches": {"include": ["*"]}},
        "pool": _pool(config),
        "steps": [
            {"template": SETUP},
            _script("ruff check .\nruff format --check .", "Lint"),
            _script(_coverage(quality.coverage_fail_under), "Tests"),
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
                # @1, deprecated, because it is the version the Azure Pipelines schema
                # check-jsonschema vendors accepts: it names @2 in its task list but defines
                # no step for it, so any @2 step fails validation
                "task": "PublishCodeCoverageResults@1",
                "displayName": "Publish coverage",
                "condition": "succeededOrFailed()",
                "inputs": {
                    "codeCoverageTool": "Cobertura",
                    "summaryFileLocation": "coverage.xml",
                    "failIfCoverageEmpty": True,
                },
            },
            *_security(quality.security),
            _script("mlops render --check", "Rendered files are current"),
            _script("mlops validate", "Azure ML YAML loads"),
            _script("mlops run --env local", "Train on the sample data"),
        ],
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


def ct(config: Config) -> dict[str, Any]:
    """On the default branch (code, pipelines, data config) and weekly: train in the first
    environment as the training identity. When the gate promoted, the model's files join the
    artifact, `mlops promote` copies the version into the shared registry as the promotion
    identity, and only then is the run tagged `promoted` (what cd waits for). A rejection is a
    warning on the run and a `not-promoted` tag, with the gate's reason."""
    envs = _envs(config)
    dev = envs[0]
    branch = config.devops.default_branch
    out = "$(Build.ArtifactStagingDirectory)/ct"
    single = len(envs) == 1  # nothing to promote to: the gate's decision is the promotion
    promotes = promotion_connection(config)
    after_gate = "  " + _tag(PROMOTED_TAG) + "\n" if single else ""
    train = f"""
mkdir -p "{out}"
mlops run --env {dev} --timeout 240 --output json > "{out}/run.json"
model=$(jq -r '.model // empty' "{out}/run.json")
if [ -n "$model" ]; then
  echo "$model" > "{out}/model.txt"
  # the exact bits the registry receives, for cd's local smoke test
  az ml model download --name "${{model%%:*}}" --version "${{model##*:}}" \\
    --workspace-name "$AZUREML_WORKSPACE" --resource-group "$AZURE_RESOURCE_GROUP" \\
    --download-path "{out}/model"
  echo "##vso[task.setvariable variable=promotable]true"
{after_gate}else
  reason=$(jq -r '.gate_reason // "no reason recorded"' "{out}/run.json")
  echo "##vso[task.logissue type=warning]the gate did not promote a model: $reason"
  {_tag(REJECTED_TAG)}
fi
"""
    steps: list[dict[str, Any]] = [
        {"template": SETUP},
        _azure(config, dev, f"Train, gate and register in {dev}", train),
    ]
    if promotes:
        promote = f"""
mlops promote "$(cat "{out}/model.txt")" --to {envs[1]}
{_tag(PROMOTED_TAG)}
"""
        steps.append(
            _azure(
                config,
                PROMOTION,
                "Promote into the shared registry",
                promote,
                "and(succeeded(), eq(variables['promotable'], 'true'))",
            )
        )
    steps.append(
        {
            "task": "PublishPipelineArtifact@1",
            "displayName": "Publish the gate's decision and the promoted model",
            "inputs": {"targetPath": out, "artifact": "ct"},
        }
    )
    return {
        "trigger": {
            "batch": True,
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
                "steps": steps,
            }
        ],
    }


def cd(config: Config) -> dict[str, Any]:
    """After a CT run of the default branch tagged `promoted`: the promoted model itself
    served and smoke-tested on the agent, then each later environment in turn, each a
    deployment job bound to its Azure DevOps environment (approval, branch control, exclusive
    lock) and signed in as that environment's deployment identity. Every stage also requires
    that the model's CT run came from the default branch (a manual run can pick any run)."""
    envs = _envs(config)
    ref = f"refs/heads/{config.devops.default_branch}"
    model_file = "$(Pipeline.Workspace)/ct/ct/model.txt"
    from_default = f"and(succeeded(), eq(variables['resources.pipeline.ct.sourceBranch'], '{ref}'))"
    smoke = f"""
folder=$(dirname "$(find "$(Pipeline.Workspace)/ct/ct/model" -name MLmodel -print -quit)")
model=$(cat "{model_file}")
served=$(mlops models register "$folder" --name "${{model%%:*}}" --tag "promoted_as=$model" \\
  --output json | jq -r '"\\(.name):\\(.version)"')
mlops deploy --env local --model "$served"
mlops smoke
mlops deploy --env local --stop
"""
    stages: list[dict[str, Any]] = [
        {
            "stage": "local",
            "displayName": "Serve the promoted model on the agent",
            "condition": from_default,
            "pool": _pool(config, envs[0]),
            "jobs": [
                {
                    "job": "smoke",
                    "displayName": "Serve and smoke-test the promoted model locally",
                    "steps": [
                        {"download": "ct", "artifact": "ct"},
                        {"template": SETUP},
                        _script(smoke, "The promoted model answers in the local server"),
                    ],
                }
            ],
        }
    ]
    previous = "local"
    for env in envs[1:]:
        script = f"""
mlops deploy --env {env} --model "$(cat "{model_file}")"
"""
        stages.append(
            {
                "stage": env,
                "displayName": f"Deploy to {env}",
                "dependsOn": previous,
                "condition": from_default,
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
                    # what a manual run picks by default: the latest promoted run of the branch
                    "branch": ref,
                    "tags": [PROMOTED_TAG],
                    "trigger": {"branches": {"include": [ref]}, "tags": [PROMOTED_TAG]},
                }
            ]
        },
        # exclusive locks on the environments queue rollouts in order, none cancelled
        "lockBehavior": "sequential",
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
            "batch": True,
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
                            _azure(config, PLATFORM, "mlops plan", plan),
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
                        "environment": PLATFORM,
                        "strategy": {
                            "runOnce": {
                                "deploy": {
                                    "steps": [
                                        {"download": "current", "artifact": "plan"},
                                        {"template": SETUP},
                                        _azure(config, PLATFORM, "mlops provision", provision),
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
