"""ct.yml: continuous training, on a push, weekly, and daily when new data or drift says so."""

from __future__ import annotations

from typing import Any

from mlops.config.root import Config
from mlops.render.pipelines._common import (
    PROMOTED_TAG,
    PROMOTION,
    REJECTED_TAG,
    SETUP,
    _azure,
    _azure_cli,
    _envs,
    _pool,
    _tag,
    connection,
    promotion_connection,
    variables,
)

#: CT's two schedules, told apart by Build.CronSchedule.DisplayName ("the displayName of the
#: cron schedule that triggered the pipeline run": learn.microsoft.com/azure/devops/pipelines/
#: process/scheduled-triggers#buildcronscheduledisplayname-variable)
RETRAIN_SCHEDULE = "Weekly retraining on current data"
CHECK_SCHEDULE = "Daily check for new data and drift"
#: the environment variable CT sets for `mlops run`: why it trains (the job's `trigger` tag)
TRIGGER_VARIABLE = "MLOPS_TRIGGER"
#: CT's schedules (UTC): the weekly retraining, and a daily check on the other days that
#: trains only for new data or drift (`mlops retrain-reason`); the check needs `always`, as
#: nothing in the repository changes when data does (scheduled-triggers docs: `always: false`
#: runs "only if there have been source code changes since the last successful scheduled run")
RETRAIN_CRON = "0 2 * * 1"
CHECK_CRON = "0 3 * * 0,2-6"
#: the step of CT's check job whose output variables the train job reads
DECIDE_STEP = "decide"
#: the build tag of a run that did not train (a trained one is tagged trigger-REASON)
NO_RETRAIN_TAG = "no-retrain"


def trigger_tag(trigger: str) -> str:
    """The build tag recording why a CT run trained: a build tag is one string, and cannot
    hold a colon (logging-commands docs), so `trigger-data` rather than `trigger:data`."""
    return f"trigger-{trigger}"


def _check_job(config: Config, dev: str) -> dict[str, Any]:
    """Why train now: `mlops retrain-reason` with the build's reason and schedule (exported by
    Azure DevOps as BUILD_REASON and BUILD_CRONSCHEDULE_DISPLAYNAME), its verdict as output
    variables of the `decide` step and build tags (`already-tried` too when it set aside a data
    version a completed run already trained on). Drift comes from the newest run of each
    serving endpoint's monitor schedule (`monitoring.collection`); see
    `mlops.services.retrain` for why CT polls."""
    out = "$(Build.ArtifactStagingDirectory)/retrain.json"
    decide = f"""
mlops retrain-reason --env {dev} --output json > "{out}"
cat "{out}"
retrain=$(jq -r '.retrain' "{out}")
trigger=$(jq -r '.trigger' "{out}")
reason=$(jq -r '.reason' "{out}")
echo "##vso[task.setvariable variable=retrain;isOutput=true]$retrain"
echo "##vso[task.setvariable variable=trigger;isOutput=true]$trigger"
echo "##vso[task.setvariable variable=set;isOutput=true]$(jq -r '.set[0] // ""' "{out}")"
if [ "$retrain" = "true" ]; then
  echo "##vso[build.addbuildtag]{trigger_tag("$trigger")}"
else
  echo "not training: $reason"
  echo "##vso[build.addbuildtag]{NO_RETRAIN_TAG}"
  skip=$(jq -r '.skip // empty' "{out}")
  if [ -n "$skip" ]; then echo "##vso[build.addbuildtag]$skip"; fi
fi
"""
    step = _azure_cli(
        connection(config, dev), "Why train now", decide.strip() + "\n", "succeeded()"
    )
    return {
        "job": "check",
        "displayName": "Push, schedule, new data or drift?",
        "steps": [{"template": SETUP}, {**step, "name": DECIDE_STEP}],
    }


def ct(config: Config) -> dict[str, Any]:
    """On the default branch (code, pipelines, data config), weekly, and daily for new data or
    drift: a check job decides (a push and the weekly schedule always train), then the train
    job trains in the first environment as the training identity, on the newest version of
    the training data asset, the reason in MLOPS_TRIGGER (the Azure ML job's `trigger` tag).
    When the gate promoted, the model's files join the artifact, `mlops promote` copies the
    version into the shared registry as the promotion identity, and only then is the run
    tagged `promoted` (what cd waits for). A rejection is a warning on the run and a
    `not-promoted` tag, with the gate's reason."""
    envs = _envs(config)
    dev = envs[0]
    branch = config.devops.default_branch
    out = "$(Build.ArtifactStagingDirectory)/ct"
    single = len(envs) == 1  # nothing to promote to: the gate's decision is the promotion
    promotes = promotion_connection(config)
    after_gate = "  " + _tag(PROMOTED_TAG) + "\n" if single else ""
    train = f"""
mkdir -p "{out}"
# the newest version of the training data asset, as the check found it
mlops run --env {dev} --timeout 240 ${{MLOPS_RETRAIN_SET:+--set "$MLOPS_RETRAIN_SET"}} \\
  --output json > "{out}/run.json"
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
    decided = f"dependencies.check.outputs['{DECIDE_STEP}.{{}}']"
    return {
        "trigger": {
            "batch": True,
            "branches": {"include": [branch]},
            "paths": {"include": ["src", "pipelines", "data", "mlops.yaml"]},
        },
        "pr": "none",
        "schedules": [
            {
                "cron": RETRAIN_CRON,
                "displayName": RETRAIN_SCHEDULE,
                "branches": {"include": [branch]},
                "always": True,
            },
            {
                "cron": CHECK_CRON,
                "displayName": CHECK_SCHEDULE,
                "branches": {"include": [branch]},
                "always": True,
            },
        ],
        "variables": variables(config, dev),
        "pool": _pool(config, dev),
        "jobs": [
            _check_job(config, dev),
            {
                "job": "train",
                "displayName": f"Train in {dev}",
                "dependsOn": "check",
                "condition": f"and(succeeded(), eq({decided.format('retrain')}, 'true'))",
                "timeoutInMinutes": 300,
                "variables": [
                    {"name": TRIGGER_VARIABLE, "value": f"$[ {decided.format('trigger')} ]"},
                    {"name": "MLOPS_RETRAIN_SET", "value": f"$[ {decided.format('set')} ]"},
                ],
                "steps": steps,
            },
        ],
    }
