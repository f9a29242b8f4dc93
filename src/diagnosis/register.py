"""Register step: a promoted model goes into the registry with its lineage and becomes champion.

Not promoted is a successful outcome: nothing is registered and the champion stays. Forcing
(`--force-register true`, for platform engineers) registers a model the gate did not promote
and says so in its tags, but never makes it champion; a model below the absolute threshold or
past a guardrail is never registered. The decision is taken again, under the registry's lock,
when another run registered a new champion since this run's gate: the better model ends as
champion.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from diagnosis import champion

LINEAGE = ("git_commit", "git_branch", "git_dirty", "build_id", "build_uri", "pipeline_run_id")


def version_tags(report: dict[str, Any], lineage: dict[str, str], forced: bool) -> dict[str, str]:
    """The tags of a registered version: where it came from and why it was registered."""
    metric = report["primary_metric"]
    dataset = report["challenger"]["dataset"]
    return {
        **{key: str(lineage.get(key, "")) for key in LINEAGE},
        "dataset_name": str(dataset["name"]),
        "dataset_version": str(dataset["version"]),
        metric: f"{report['challenger']['metrics'][metric]:.6f}",
        "gate_decision": report["decision"],
        "gate_reason": report["reason"],
        "forced": str(forced).lower(),
    }


def should_register(report: dict[str, Any], force: bool) -> tuple[bool, str]:
    if not report["registerable"]:
        return False, f"not registered: {report['reason']} (never registered, even forced)"
    if report["promoted"]:
        return True, "registered: the gate promoted it"
    if force:
        return True, f"registered by force although not promoted: {report['reason']}"
    return False, f"not promoted: {report['reason']}; the champion stays"


def recheck(report: dict[str, Any], current: Any | None, prepared: Path | None) -> dict[str, Any]:
    """The gate's report as it holds now. When the champion moved since the evaluate step
    (another run registered meanwhile), the challenger is compared again with the same rule
    against the new champion on the same holdout."""
    before = (report.get("champion") or {}).get("version")
    now = None if current is None else str(current.version)
    if before == now or not report["registerable"]:
        return report
    metric = report["primary_metric"]
    challenger = report["challenger"]["metrics"]
    moved = f"at registration the champion is version {now}, not {before or 'none'}"
    if current is None:  # the champion the gate saw is gone: compare with no champion
        metrics = None
    elif prepared is None:
        return {
            **report,
            "decision": "not promoted",
            "promoted": False,
            "reason": f"{moved}, and no holdout was given to compare against it",
        }
    else:
        import mlflow

        from diagnosis.evaluate import holdout_metrics

        model = mlflow.sklearn.load_model(f"models:/{current.name}/{current.version}")
        metrics = holdout_metrics(prepared, model)
    from diagnosis.evaluate import decide, report_guardrails

    decision = decide(
        challenger,
        metrics,
        metric=metric,
        direction=report["direction"],
        threshold=report["threshold"],
        min_improvement=report["min_improvement"],
        guardrails=report_guardrails(report),
    )
    return {
        **report,
        "decision": "promoted" if decision.promoted else "not promoted",
        "promoted": decision.promoted,
        "registerable": decision.registerable,
        "broken_guardrails": list(decision.broken_guardrails),
        "reason": f"{moved}: {decision.reason}",
        "champion": None if metrics is None else {"metrics": metrics, "version": now},
    }


PIPELINE_RUN_TAG = "mlops.run_id"  # set by mlops on the pipeline run, locally and on Azure ML


#: the exact data asset (azureml:NAME:VERSION) the pipeline job trained on: mlops tags the
#: Azure ML job with it (mlops.backends.azure.aml), and the model keeps it, so that model
#: monitoring's baseline is that asset (mlops.monitoring.schedule.baseline_asset)
DATASET_ASSET_TAG = "dataset_asset"


def parent_tags(client: Any) -> dict[str, str]:
    """The tags of the pipeline run this step belongs to (its parent MLflow run, where mlops
    sets the run's lineage on both backends), with `mlflow.parentRunId` as `_id`; {} when the
    step runs on its own."""
    import os

    step_run = os.environ.get("MLFLOW_RUN_ID")
    if not step_run:
        return {}
    try:
        parent = client.get_run(step_run).data.tags.get("mlflow.parentRunId")
        if not parent:
            return {}
        return {**client.get_run(parent).data.tags, "_id": parent}
    except Exception:  # lineage is recorded as found: a missing parent is not a failed step
        return {}


def pipeline_run_id(client: Any, tags: dict[str, str] | None = None) -> str:
    """The pipeline run this step belongs to: the `mlops.run_id` tag of its parent MLflow run
    (mlops tags the local parent run and the Azure ML pipeline job with it), else the parent's
    own id, else "unknown"."""
    found = parent_tags(client) if tags is None else tags
    return found.get(PIPELINE_RUN_TAG) or found.get("_id") or "unknown"


def _flag(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--prepared", type=Path, default=None, help="the gate's holdout")
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--force-register", default="false")
    parser.add_argument(
        "--champion-version", default=None, help="the champion when the run started (reuse key)"
    )
    parser.add_argument("--out", type=Path, required=True)
    for key in LINEAGE:
        default = None if key == "pipeline_run_id" else "unknown"
        parser.add_argument(f"--{key.replace('_', '-')}", default=default)
    args = parser.parse_args(argv)

    report = json.loads((args.report / "gate_report.json").read_text())
    force = _flag(args.force_register)
    outcome = _decide_and_register(args, report, force)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "registration.json").write_text(json.dumps(outcome, indent=2))
    version = f" as version {outcome['version']}" if outcome["registered"] else ""
    print(f"register: {outcome['message']}{version}")


def _decide_and_register(
    args: argparse.Namespace, report: dict[str, Any], force: bool
) -> dict[str, Any]:
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    parent = parent_tags(client)
    if args.pipeline_run_id is None:  # not an input: it changes every run, the step would never
        args.pipeline_run_id = pipeline_run_id(client, parent)  # be reused
    args.dataset_asset = parent.get(DATASET_ASSET_TAG, "")
    logged = False
    if report["registerable"] and (report["promoted"] or force):
        # the slow part (copying the model) before the lock: it decides nothing
        mlflow.active_run() or mlflow.start_run()
        mlflow.log_artifacts(str(args.model), "model")
        logged = True
    with champion.registry_lock():
        try:
            current = champion.find(client, args.model_name)
        except MlflowException:  # no such model yet
            current = None
        report = recheck(report, current, args.prepared)
        register, message = should_register(report, force)
        outcome: dict[str, Any] = {
            "registered": False,
            "message": message,
            "decision": report["decision"],
            "reason": report["reason"],
            "forced": False,
        }
        if register and logged:
            outcome |= _register(client, args, report, force, current)
        elif register:  # the gate's decision changed under the lock: nothing was logged
            outcome["message"] = "not registered: the decision changed while registering"
    return outcome


def set_champion(client: Any, name: str, version: str) -> bool:
    """Point the champion alias at `version`. Azure ML's MLflow registry has no aliases: there
    the champion is the newest version the gate promoted (its tags say so), nothing to set."""
    from mlflow.exceptions import MlflowException

    try:
        client.set_registered_model_alias(name, champion.CHAMPION_ALIAS, version)
    except (MlflowException, NotImplementedError) as exc:
        print(
            f"register: no alias set ({type(exc).__name__}): the champion is the newest"
            " promoted version"
        )
        return False
    return True


def _register(
    client: Any,
    args: argparse.Namespace,
    report: dict[str, Any],
    force: bool,
    current: Any | None,
) -> dict[str, Any]:
    """Create the version with its tags, then move the alias; signals wait until both are
    done (the version, its tags and its description are one write in MLflow)."""
    import mlflow

    forced = force and not report["promoted"]
    lineage = {key: getattr(args, key) for key in LINEAGE}
    tags = version_tags(report, lineage, forced)
    if str(getattr(args, "dataset_asset", "")).startswith("azureml:"):
        tags[DATASET_ASSET_TAG] = args.dataset_asset
    run = mlflow.active_run()
    mlflow.log_dict(report, "gate_report.json")
    with champion.signals_deferred():
        version = mlflow.register_model(
            f"runs:/{run.info.run_id}/model", args.model_name, tags=tags
        )
        client.update_model_version(args.model_name, version.version, description=report["reason"])
        if not forced:
            set_champion(client, args.model_name, version.version)
        elif current is not None:  # keep the alias on the champion the rule names
            set_champion(client, args.model_name, str(current.version))
    number = str(version.version)
    mlflow.set_tags({"registered_version": number, "forced": str(forced).lower()})
    return {"registered": True, "version": number, "tags": tags, "forced": forced}


if __name__ == "__main__":
    main()
