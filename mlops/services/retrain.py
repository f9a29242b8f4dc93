"""Whether continuous training should train now, and why: one rule for every backend.

Azure offers no secret-free push from "a data asset got a new version" or "a monitor signal
fired" to an Azure DevOps run, so CT polls instead (see `mlops.render.pipelines.ct`):
- Azure ML's Event Grid events are ModelRegistered, ModelDeployed, RunCompleted,
  RunStatusChanged and DatasetDriftDetected (v1 dataset monitors): none for a new data asset
  version (learn.microsoft.com/azure/event-grid/event-schema-machine-learning);
- Azure ML v2 schedules are time-based only, cron or recurrence, and start Azure ML jobs, not
  Azure DevOps runs (learn.microsoft.com/azure/machine-learning/reference-yaml-schedule; the
  data-change schedules were v1 only: .../v1/how-to-trigger-published-pipeline);
- the only inbound trigger of an Azure DevOps pipeline from outside is an Incoming WebHook
  service connection, `POST .../_apis/public/distributedtask/webhooks/NAME`, authenticated by
  a shared secret or not at all (learn.microsoft.com/azure/devops/pipelines/yaml-schema/
  resources-webhooks-webhook): a secret to hold, or a URL anyone may call.

So CT's daily check asks this module, with the evidence each backend reads (the training data
asset's versions, the champion's lineage, the data versions completed runs already tried, the
latest monitor report or, on Azure, the newest monitor run), and trains only when `decide`
says so. The trigger is recorded on the run: an Azure DevOps build tag and, through
`MLOPS_TRIGGER`, the Azure ML job's `trigger` tag (`trigger_tags`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlops.config.loader import LoadedConfig
from mlops.errors import BadInputError
from mlops.render.pipelines import RETRAIN_SCHEDULE, TRIGGER_VARIABLE

if TYPE_CHECKING:
    from mlops.backends.azure.clients import AzureClients

Trigger = Literal["push", "schedule", "data", "drift"]
TRIGGERS: tuple[str, ...] = ("push", "schedule", "data", "drift")
#: Build.Reason values of a push (learn.microsoft.com/azure/devops/pipelines/build/variables):
#: CI on one push, batched CI, and a run queued by hand, which trains as a push does
PUSH_REASONS = frozenset({"IndividualCI", "BatchedCI", "Manual"})
#: what the check says when it sets a data version aside (a build tag in CT too)
ALREADY_TRIED = "already-tried"
#: the tags naming the data a run trained on: Azure ML's job (`aml._dataset_tags`: the asset
#: version) and the local run's MLflow parent run (the content hash, prep's rule)
DATA_TAGS = ("dataset_name", "dataset_version")
_ASSET = re.compile(r"^azureml:(?P<name>[A-Za-z0-9_.-]+)(?::(?P<version>[^:@/]+)|@(?P<label>\w+))$")


@dataclass(frozen=True)
class DataEvidence:
    """The newest version of the training data asset, and when it was registered."""

    asset: str
    version: str
    created_ms: int
    reference: str | None = None  # azureml:NAME:VERSION on Azure; None locally


@dataclass(frozen=True)
class ChampionEvidence:
    """The model serving as champion: when it was registered and the data it was trained on
    (its `dataset_name` and `dataset_version` lineage tags)."""

    name: str
    version: str
    created_ms: int
    dataset_version: str | None


@dataclass(frozen=True)
class DriftEvidence:
    """The latest monitor report: whether a signal crossed its threshold, and when."""

    source: str
    breached: bool
    created_ms: int
    signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    retrain: bool
    trigger: Trigger | None
    reason: str
    overrides: dict[str, str] = field(default_factory=dict)  # --set inputs for the run
    skip: str | None = None  # why a reason to train was set aside (ALREADY_TRIED)

    def to_dict(self, **evidence: Any) -> dict[str, Any]:
        return {
            "retrain": self.retrain,
            "trigger": self.trigger or "none",
            "reason": self.reason,
            "skip": self.skip,
            "set": [f"inputs.{k}={v}" for k, v in sorted(self.overrides.items())],
            **{k: (asdict(v) if v is not None else None) for k, v in evidence.items()},
        }


def decide(
    build_reason: str,
    schedule: str,
    data: DataEvidence | None,
    champion: ChampionEvidence | None,
    drift: DriftEvidence | None,
    tried: frozenset[str] = frozenset(),
) -> Decision:
    """The one rule. A push (or a run queued by hand) and the weekly schedule always train.
    Otherwise train when the training data has a version the champion was not trained on
    (registered after the champion, and not the version its lineage names), else when the
    latest monitor report, newer than the champion, crossed a threshold; with no champion
    at all, train on the data there is. A data version in `tried` (a completed run already
    trained on it and the gate kept the champion) is not trained on again: the daily check
    would otherwise retrain on the same rejected data every day."""
    if build_reason in PUSH_REASONS:
        return Decision(True, "push", f"Build.Reason {build_reason}: a push always trains")
    if build_reason == "Schedule" and schedule == RETRAIN_SCHEDULE:
        return Decision(True, "schedule", f"the schedule '{schedule}' always trains")
    if champion is None:
        if data is None:
            return Decision(False, None, "no champion and no training data asset to train on")
        if data.version in tried:
            return _already_tried(data, "no champion yet")
        return Decision(True, "data", f"no champion yet: train on {data.asset} {data.version}")
    if data is not None and _newer(data, champion):
        if data.version in tried:
            return _already_tried(data, f"the champion {champion.name}:{champion.version} stays")
        return Decision(
            True,
            "data",
            f"{data.asset} version {data.version} was registered after the champion"
            f" {champion.name}:{champion.version} and is not the data it was trained on"
            f" ({champion.dataset_version or 'unrecorded'})",
        )
    if drift is not None and drift.breached and drift.created_ms > champion.created_ms:
        crossed = ", ".join(drift.signals) or "a signal"
        return Decision(
            True,
            "drift",
            f"the latest monitor report ({drift.source}) crossed a threshold on {crossed}"
            f" after the champion {champion.name}:{champion.version} was registered",
        )
    why = [f"the champion {champion.name}:{champion.version} was trained on the newest data"]
    if drift is None:
        why.append("no monitor report to read")
    elif not drift.breached:
        why.append("the latest monitor report crossed no threshold")
    else:
        why.append("the drift report predates the champion")
    return Decision(False, None, "; ".join(why))


def _already_tried(data: DataEvidence, why: str) -> Decision:
    return Decision(
        False,
        None,
        f"{ALREADY_TRIED}: a completed run already trained on {data.asset} version"
        f" {data.version}; {why} until a new version is registered (a push or the weekly"
        " schedule still trains)",
        skip=ALREADY_TRIED,
    )


def _newer(data: DataEvidence, champion: ChampionEvidence) -> bool:
    return data.version != champion.dataset_version and data.created_ms > champion.created_ms


def trigger_tags(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """{"trigger": VALUE} for the Azure ML job and the local run when CT says why it runs
    (`MLOPS_TRIGGER`), else {}. A value outside push, schedule, data, drift is refused."""
    value = (os.environ if environ is None else environ).get(TRIGGER_VARIABLE, "").strip()
    if not value:
        return {}
    if value not in TRIGGERS:
        raise BadInputError(
            f"{TRIGGER_VARIABLE}={value}: not a trigger mlops records",
            hint=f"one of {', '.join(TRIGGERS)} (set by the CT pipeline)",
        )
    return {"trigger": value}


# --- evidence: what the training data is, on each backend ------------------------------


@dataclass(frozen=True)
class TrainingData:
    """The pipeline input that takes the registered training data asset."""

    input: str
    asset: str
    local_path: Path | None


def training_data(loaded: LoadedConfig) -> TrainingData:
    """The first data input of the model's pipeline that names a registered asset
    (azureml:NAME:VERSION or azureml:NAME@latest), with the local copy mlops.yaml gives it."""
    from mlops.pipeline.reading import read_yaml
    from mlops.pipeline.spec import DATA_TYPES
    from mlops.services.run import pipeline_path

    path = pipeline_path(loaded, None)
    for name, spec in (read_yaml(path).get("inputs") or {}).items():
        if not isinstance(spec, Mapping) or str(spec.get("type", "uri_folder")) not in DATA_TYPES:
            continue
        match = _ASSET.match(str(spec.get("path") or ""))
        if match is None:
            continue
        asset = match["name"]
        local = None
        for entry in loaded.config.data.values():
            named = _ASSET.match(str(entry.azure_path or ""))
            if named and named["name"] == asset and entry.local_path:
                local = (loaded.root / entry.local_path).resolve()
        return TrainingData(str(name), asset, local)
    raise BadInputError(
        f"{path.name}: no data input names a registered data asset, so there is no training"
        " data whose new versions could trigger retraining",
        hint="give the training data input a path azureml:NAME:VERSION, e.g.\ninputs:\n"
        "  data:\n    type: uri_file\n    path: azureml:breast-cancer:1",
    )


def local_data(training: TrainingData) -> DataEvidence | None:
    """The local copy as a version: its content hash (the rule the prep step records as
    `dataset_version`: the same bytes are the same version) and when it last changed."""
    path = training.local_path
    if path is None or not path.exists():
        return None
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    changed = max((f.stat().st_mtime for f in files), default=0.0)
    return DataEvidence(training.asset, _content_version(path), int(changed * 1000))


def _content_version(path: Path) -> str:
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def local_data_tags(inputs: Mapping[str, Any]) -> dict[str, str]:
    """The local run's DATA_TAGS: the first input resolved from a registered asset
    (`LocalData.asset` NAME:VERSION) with its local copy's content version, as `local_data`
    reads it for the check; {} when no input comes from an asset."""
    for value in inputs.values():
        asset, path = getattr(value, "asset", None), getattr(value, "path", None)
        if asset and isinstance(path, Path) and path.exists():
            return dict(zip(DATA_TAGS, (asset.split(":")[0], _content_version(path)), strict=True))
    return {}


def tried_versions(runs: list[tuple[str, Mapping[str, str]]], asset: str) -> frozenset[str]:
    """The versions of `asset` that completed runs trained on: each run as (status, tags),
    its status normalized to Completed when it ended without failing."""
    return frozenset(
        tags[DATA_TAGS[1]]
        for status, tags in runs
        if status == "Completed" and tags.get(DATA_TAGS[0]) == asset and tags.get(DATA_TAGS[1])
    )


def _local_tried(state: Path, asset: str) -> frozenset[str]:
    from mlops.backends.local.tracking import Tracking

    if not (state / "mlflow.db").is_file():
        return frozenset()
    runs = Tracking(state).pipeline_runs(limit=200)
    return tried_versions(
        [("Completed" if r.status == "FINISHED" else r.status, r.tags) for r in runs], asset
    )


def _champion(versions: list[Any]) -> ChampionEvidence | None:
    from mlops.gate import champion

    found = champion(versions)
    if found is None:
        return None
    return ChampionEvidence(
        found.name, str(found.version), found.created_ms, found.tags.get("dataset_version")
    )


def read_drift(path: Path) -> DriftEvidence:
    """A monitor report (`mlops monitor --output json`, or a file in its shape): breached
    when `breached` or `drifted` is true or any entry of `signals` is breached or drifted."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise BadInputError(
            f"--monitor-report {path}: not a readable JSON report ({exc})",
            hint="pass the JSON report `mlops monitor --output json` writes",
        ) from None
    if not isinstance(report, Mapping):
        raise BadInputError(
            f"--monitor-report {path}: a JSON object was expected",
            hint="pass the JSON report `mlops monitor --output json` writes",
        )
    signals = report.get("signals") or []
    crossed = tuple(
        str(s.get("feature") or s.get("column") or s.get("name") or "?")
        for s in (signals if isinstance(signals, list) else [])
        if isinstance(s, Mapping) and (s.get("breached") is True or s.get("drifted") is True)
    )
    # `mlops monitor --env local --output json` says `drifted`, each measure its `column`
    breached = report.get("breached") is True or report.get("drifted") is True or bool(crossed)
    return DriftEvidence(str(path), breached, int(path.stat().st_mtime * 1000), crossed)


def azure_drift(loaded: LoadedConfig, clients: AzureClients) -> DriftEvidence | None:
    """The newest finished run of the monitor schedules mlops creates at deploy time (one per
    serving environment's endpoint: mlops.services.azure_ml.release), as drift evidence: a
    signal crossed its threshold when a run of it carries Azure ML's breach tag. None when no
    monitor has finished a run. CT signs in as the first environment's identity, which must
    be able to read the serving environments' jobs: a denied read fails the check (exit 1)
    rather than deciding without the evidence."""
    from mlops.backends.azure import monitors
    from mlops.monitoring.schedule import schedule_name
    from mlops.services.azure_ml.workspaces import workspace

    envs = list(loaded.config.environments.azure)
    found: list[tuple[str, monitors.MonitorRun]] = []
    for env in envs[1:] or envs:  # where CD deploys (mlops.render.pipelines.cd)
        ml = workspace(loaded, env).client(clients)
        run = monitors.latest_monitor_run(ml, schedule_name(loaded.config, env))
        if run is not None:
            found.append((env, run))
    if not found:
        return None
    env, run = max(found, key=lambda item: item[1].created_ms)
    source = f"monitor job {run.name} in {env} ({run.status})"
    return DriftEvidence(source, run.breached, run.created_ms, run.signals)


# --- the decision on each backend --------------------------------------------------------


def decide_for(
    loaded: LoadedConfig,
    env: str,
    *,
    build_reason: str = "",
    schedule: str = "",
    monitor_report: Path | None = None,
    clients: AzureClients | None = None,
) -> dict[str, Any]:
    """Read the evidence in `env` (local: the data file and the local registry; Azure: the
    workspace's data asset versions and models) and apply `decide`. On Azure the run is told
    to train on the newest version of the asset (a `--set` for `mlops run`), so a champion
    registered after a version was trained on it."""
    from mlops.services.azure_ml.workspaces import model_name

    training = training_data(loaded)
    drift = read_drift(monitor_report) if monitor_report is not None else None
    name = model_name(loaded)
    if env == "local":
        from mlops.backends.local.registry import Registry
        from mlops.services.run import state_dir

        state = state_dir(loaded)
        versions = Registry(state).versions(name) if (state / "mlflow.db").is_file() else []
        data = local_data(training)
        tried = _local_tried(state, training.asset)
        overrides: dict[str, str] = {}
    else:
        from mlops.backends.azure import aml
        from mlops.backends.azure.data_assets import data_versions
        from mlops.services.azure_ml.workspaces import workspace

        if clients is None:
            raise ValueError("clients are needed for an Azure environment")
        ml = workspace(loaded, env).client(clients)
        found = data_versions(ml, training.asset)
        newest = found[0] if found else None
        data = (
            DataEvidence(training.asset, newest.version, newest.created_ms, newest.reference)
            if newest
            else None
        )
        versions = aml.model_versions(ml, name)
        tried = tried_versions(aml.data_runs(ml, DATA_TAGS[0]), training.asset)
        if drift is None and loaded.config.monitoring.collection:
            drift = azure_drift(loaded, clients)
        overrides = {training.input: newest.reference} if newest else {}
    champion = _champion(versions)
    decision = decide(build_reason, schedule, data, champion, drift, tried)
    if not decision.retrain:
        overrides = {}
    decision = Decision(
        decision.retrain, decision.trigger, decision.reason, overrides, decision.skip
    )
    return {
        "env": env,
        **decision.to_dict(data=data, champion=champion, drift=drift),
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
