"""MLflow on SQLite under `.mlops/`: a parent run per pipeline run, a child run per step.

MLflow types stay in this module; callers see run ids and plain dicts.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PIPELINE_TAG = "mlops.run_id"
STEP_TAG = "mlops.step"
REUSED_TAG = "mlops.reused_from"


@dataclass(frozen=True)
class TrackedRun:
    """A run as `mlops runs` shows it."""

    run_id: str
    mlflow_run_id: str
    name: str
    status: str
    start_ms: int
    end_ms: int | None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        return (self.end_ms - self.start_ms) / 1000 if self.end_ms else None


class Tracking:
    """Thread-safe access to the local MLflow tracking store."""

    def __init__(self, state_dir: Path) -> None:
        from mlflow.tracking import MlflowClient

        for name in ("mlflow", "alembic"):  # after import: mlflow configures its loggers then
            logging.getLogger(name).setLevel(logging.WARNING)

        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir.resolve()
        self.uri = f"sqlite:///{self.state_dir / 'mlflow.db'}"
        self.artifacts = (self.state_dir / "artifacts").as_uri()
        self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        self._lock = threading.Lock()

    def experiment(self, name: str) -> str:
        """The id of experiment `name`, created with artifacts under `.mlops/` if new."""
        with self._lock:
            found = self._client.get_experiment_by_name(name)
            if found is not None:
                return found.experiment_id
            return self._client.create_experiment(name, artifact_location=self.artifacts)

    def start(
        self,
        experiment_id: str,
        name: str,
        *,
        parent: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> str:
        all_tags = dict(tags or {})
        if parent:
            all_tags["mlflow.parentRunId"] = parent
        from mlflow.entities import Param

        with self._lock:
            run = self._client.create_run(experiment_id, run_name=name, tags=all_tags)
            if params:
                batch = [Param(key, str(value)[:6000]) for key, value in params.items()]
                self._client.log_batch(run.info.run_id, params=batch)
        return run.info.run_id

    def end(self, mlflow_run_id: str, status: str) -> None:
        """Close a run (FINISHED, FAILED, KILLED); the step's own MLflow may have closed it."""
        with self._lock:
            self._client.set_terminated(mlflow_run_id, status=status)

    def copy_metrics(self, source: str, target: str) -> None:
        """Give a reused step's run the metrics of the run it reuses, as Azure ML shows them."""
        with self._lock:
            metrics = self._client.get_run(source).data.metrics
            for key, value in metrics.items():
                self._client.log_metric(target, key, value)

    def pipeline_runs(self, limit: int = 20) -> list[TrackedRun]:
        """The latest pipeline runs, newest first."""
        with self._lock:
            experiments = [e.experiment_id for e in self._client.search_experiments()]
            runs = self._client.search_runs(
                experiments,
                filter_string=f"tags.`{PIPELINE_TAG}` != ''",
                order_by=["attributes.start_time DESC"],
                max_results=limit,
            )
        return [_tracked(r) for r in runs if "mlflow.parentRunId" not in r.data.tags]

    def pipeline_run(self, run_id: str) -> tuple[TrackedRun, list[TrackedRun]] | None:
        """A pipeline run (by its run id or a unique prefix of it) and its step runs."""
        matches = [r for r in self.pipeline_runs(limit=10_000) if r.run_id.startswith(run_id)]
        if len(matches) != 1:
            return None
        parent = matches[0]
        with self._lock:
            experiment = self._client.get_run(parent.mlflow_run_id).info.experiment_id
            children = self._client.search_runs(
                [experiment],
                filter_string=f"tags.`mlflow.parentRunId` = '{parent.mlflow_run_id}'",
                order_by=["attributes.start_time ASC"],
            )
        return parent, [_tracked(c) for c in children]


def _tracked(run: Any) -> TrackedRun:
    tags = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
    return TrackedRun(
        run_id=run.data.tags.get(PIPELINE_TAG, ""),
        mlflow_run_id=run.info.run_id,
        name=run.info.run_name or "",
        status=run.info.status,
        start_ms=run.info.start_time or 0,
        end_ms=run.info.end_time,
        tags=tags,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
    )
