"""cd.yml: each later environment's deployment of a promoted model."""

from __future__ import annotations

from typing import Any

from mlops.config.root import Config
from mlops.render.pipelines._common import (
    PROMOTED_TAG,
    SETUP,
    _azure,
    _envs,
    _pool,
    _script,
    deployment_environment,
    pipeline_name,
    variables,
)


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
                "variables": variables(config, env),
                "jobs": [
                    {
                        "deployment": "deploy",
                        "displayName": f"Blue/green rollout in {env}",
                        "environment": deployment_environment(config, env),
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
