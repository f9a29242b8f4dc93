"""Azure ML model monitors, through the real `azure-ai-ml` SDK: the endpoint's monitor schedule
(created or moved at each release) and the runs it starts (read by CT's check for drift).
Plain records out, SDK errors translated by `aml._call`, as in `mlops.backends.azure.aml`."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.backends.azure.aml import _call, _finish, _status, quiet

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

#: a schedule is a small control-plane write: minutes at most
SCHEDULE_TIMEOUT = 10 * 60


def create_monitor(ml: MLClient, spec: dict[str, Any], root: Path) -> None:
    """Create or update a model monitor schedule (the CLI v2 schedule YAML with
    `create_monitor`, as `az ml schedule create` takes it): the SDK resolves the deployment's
    data collector assets and the baseline asset to ARM ids before the PUT."""
    from mlops.serialize import dump_yaml

    with quiet():
        # 1.35 exports no load_schedule at top level: the function `az ml schedule` uses
        from azure.ai.ml.entities._load_functions import load_schedule

        schedule = load_schedule(io.StringIO(dump_yaml(spec)), relative_origin=str(root))
    what = f"creating monitor schedule {spec['name']}"
    _call(
        lambda: _finish(ml.schedules.begin_create_or_update(schedule), SCHEDULE_TIMEOUT, what),
        what,
    )


#: the run tag Azure ML model monitoring sets when a signal crosses its threshold, its value
#: "The signal 'NAME' has failed due to one or more features violating metric thresholds..."
#: (learn.microsoft.com/azure/machine-learning/how-to-monitor-model-performance, Event Grid
#: filter `data.RunTags.azureml_modelmonitor_threshold_breached`; set on the signal's
#: evaluate step run by the monitoring components in github.com/Azure/azureml-assets)
BREACH_TAG = "azureml_modelmonitor_threshold_breached"
_SIGNAL = re.compile(r"The signal '([^']+)'")
#: how deep a monitor job's runs are read: the job, each signal's pipeline, its steps
MONITOR_DEPTH = 3


@dataclass(frozen=True)
class MonitorRun:
    """The latest finished run of a monitor schedule: whether a signal crossed its threshold,
    which ones, and when the run was created (epoch ms)."""

    name: str
    status: str
    created_ms: int
    breached: bool
    signals: tuple[str, ...] = ()


def latest_monitor_run(ml: MLClient, schedule: str) -> MonitorRun | None:
    """The newest finished (Completed or Failed) job the schedule started, with the breach
    tags of its runs read down to MONITOR_DEPTH; None when it has finished none yet. The jobs
    come from `jobs.list(schedule_defined=True, scheduled_job_name=NAME)` (GET .../jobs?
    scheduled=true&scheduleId=NAME), their runs from run history (`parent_job_name`)."""

    def read() -> MonitorRun | None:
        jobs = [
            j
            for j in ml.jobs.list(schedule_defined=True, scheduled_job_name=schedule)
            if j is not None and _status(j.status) in ("Completed", "Failed")
        ]
        if not jobs:
            return None
        job = max(jobs, key=_created_ms)
        found = _breaches(ml, job)
        signals = tuple(sorted({m[1] if (m := _SIGNAL.search(v)) else "?" for v in found}))
        return MonitorRun(job.name, _status(job.status), _created_ms(job), bool(found), signals)

    return _call(read, f"reading the runs of monitor schedule {schedule}")


def _breaches(ml: MLClient, job: Any) -> list[str]:
    """The breach tags of the job and its runs, level by level. Below the job's own children
    the runs are read from run history directly: `jobs.list(parent_job_name=)` first GETs the
    parent as a job, which ARM serves for top-level jobs only, not for step runs."""
    found: list[str] = []
    level = [job]
    for depth in range(MONITOR_DEPTH):
        below: list[Any] = []
        for run in level:
            value = (run.tags or {}).get(BREACH_TAG)
            if value:
                found.append(str(value))
            if depth == MONITOR_DEPTH - 1:
                continue
            if run is job:
                below += [c for c in ml.jobs.list(parent_job_name=run.name) if c is not None]
            else:
                children = ml.jobs._runs_operations.get_run_children(run.name)
                below += [c for c in children if c is not None]
        level = below
    return found


def _created_ms(job: Any) -> int:
    created = getattr(job.creation_context, "created_at", None)
    return int(created.timestamp() * 1000) if created else 0
