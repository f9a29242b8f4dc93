"""Register step: a promoted model goes into the registry with its lineage and becomes champion.

Not promoted is a successful outcome: nothing is registered and the champion stays. Forcing
(`--force-register true`, for platform engineers) registers a model the gate did not promote
and says so in its tags; a model below the absolute threshold is never registered.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

CHAMPION_ALIAS = "champion"
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


def _flag(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--force-register", default="false")
    parser.add_argument("--out", type=Path, required=True)
    for key in LINEAGE:
        parser.add_argument(f"--{key.replace('_', '-')}", default="unknown")
    args = parser.parse_args(argv)

    report = json.loads((args.report / "gate_report.json").read_text())
    force = _flag(args.force_register)
    register, message = should_register(report, force)
    outcome: dict[str, Any] = {"registered": False, "message": message}
    if register:
        outcome |= _register(args, report, force)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "registration.json").write_text(json.dumps(outcome, indent=2))
    print(f"register: {message}" + (f" as version {outcome['version']}" if register else ""))


def set_champion(client: Any, name: str, version: str) -> bool:
    """Point the champion alias at `version`. Azure ML's MLflow registry has no aliases: there
    the champion is the newest version the gate promoted (its tags say so), nothing to set."""
    from mlflow.exceptions import MlflowException

    try:
        client.set_registered_model_alias(name, CHAMPION_ALIAS, version)
    except (MlflowException, NotImplementedError) as exc:
        print(
            f"register: no alias set ({type(exc).__name__}): the champion is the newest"
            " promoted version"
        )
        return False
    return True


def _register(args: argparse.Namespace, report: dict[str, Any], forced: bool) -> dict[str, Any]:
    import os

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    lineage = {key: getattr(args, key) for key in LINEAGE}
    tags = version_tags(report, lineage, forced)
    run = mlflow.active_run() or mlflow.start_run()
    mlflow.log_artifacts(str(args.model), "model")
    mlflow.log_dict(report, "gate_report.json")
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", args.model_name, tags=tags)
    client = mlflow.MlflowClient()
    client.update_model_version(args.model_name, version.version, description=report["reason"])
    set_champion(client, args.model_name, version.version)
    mlflow.set_tags({"registered_version": version.version, "forced": str(forced).lower()})
    return {"registered": True, "version": version.version, "tags": tags}


if __name__ == "__main__":
    main()
