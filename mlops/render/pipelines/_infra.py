"""infra.yml: the reviewed plan, then provisioning from exactly that plan."""

from __future__ import annotations

from typing import Any

from mlops.config.root import Config
from mlops.render.pipelines._common import (
    PLATFORM,
    SETUP,
    _azure,
    _pool,
)


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
