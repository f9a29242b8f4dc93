"""MLflow on SQLite under `.mlops/`: a parent run per pipeline run, a child run per step.

MLflow types stay in this module; callers see run ids and plain dicts. Once MLflow has created
the store, a run's bookkeeping goes to its tables directly (`_sqlstore`), without importing
MLflow (2.5 s); reading runs back (`mlops runs`) uses MLflow.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.backends.local._sqlstore import Store, remember_schema

PIPELINE_TAG = "mlops.run_id"
STEP_TAG = "mlops.step"
REUSED_TAG = "mlops.reused_from"
# who runs a pipeline run: a RUNNING run whose process is gone was killed or crashed
OWNER_TAGS = ("mlops.host", "mlops.pid", "mlops.pid_started")
STORE_LOCK = "store.lock"
REGISTRY_LOCK = "registry.lock"


def store_uri(state_dir: Path) -> str:
    """The MLflow URI of the store under `state_dir` (an absolute path: steps run elsewhere)."""
    return f"sqlite:///{state_dir.resolve() / 'mlflow.db'}"


def artifact_root(state_dir: Path) -> str:
    """Where the runs' artifacts go: files under `state_dir`, written by the steps directly."""
    return (state_dir.resolve() / "artifacts").as_uri()


def open_client(state_dir: Path) -> Any:
    """An MlflowClient on `state_dir/mlflow.db`, its tables created or migrated by one process
    at a time: three first `mlops run`s at once would otherwise race on the migration and
    leave a store every later command fails on."""
    from filelock import FileLock
    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):  # after import: mlflow configures its loggers then
        logging.getLogger(name).setLevel(logging.WARNING)
    state_dir.mkdir(parents=True, exist_ok=True)
    uri = store_uri(state_dir)
    with FileLock(state_dir / STORE_LOCK, timeout=300):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_experiments(max_results=1)  # the tracking store: tables, migrations
        client.search_registered_models(max_results=1)  # the registry store on the same file
        remember_schema(state_dir)  # what the warm path checks before it writes the tables
    return client


def owner_tags() -> dict[str, str]:
    """This process, as the owner of a run: host, pid and the pid's start time (pids recur)."""
    import socket

    import psutil

    me = psutil.Process()
    return dict(
        zip(OWNER_TAGS, (socket.gethostname(), str(me.pid), repr(me.create_time())), strict=True)
    )


def _owner_gone(tags: dict[str, str]) -> bool:
    """True when the run's owner is known, on this host, and no longer the same process."""
    import socket

    from mlops.backends.local.processes import is_same_process

    host, pid, started = (tags.get(k) for k in OWNER_TAGS)
    if not (host and pid and started) or host != socket.gethostname():
        return False  # another machine's run (a shared folder): not ours to judge
    try:
        return not is_same_process(int(pid), float(started))
    except ValueError:  # tags written by hand
        return False


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
    """Thread-safe access to the local MLflow tracking store: a run's bookkeeping through
    the store's tables when MLflow created them (no MLflow import), else through MLflow."""

    def __init__(self, state_dir: Path, *, made_by: Callable[[], object] | None = None) -> None:
        """`made_by`, when given, waits for another process that creates or migrates the
        store (the run's tracking server, started early): then this one needs no MLflow."""
        self.state_dir = state_dir.resolve()
        self._opened: Any = None
        self._store = Store.open(self.state_dir)
        if self._store is None and made_by is not None:
            made_by()
            self._store = Store.open(self.state_dir)
        if self._store is None:  # new store, or another MLflow: MLflow creates or migrates it
            self._opened = open_client(state_dir)
            self._store = Store.open(self.state_dir)
        self.uri = store_uri(self.state_dir)
        self.artifacts = artifact_root(self.state_dir)
        self.registry_lock = self.state_dir / REGISTRY_LOCK
        self._lock = threading.Lock()

    @property
    def _client(self) -> Any:
        """MLflow's client, opened on first use (reads for `mlops runs`, the slow path)."""
        if self._opened is None:
            self._opened = open_client(self.state_dir)
        return self._opened

    def experiment(self, name: str) -> str:
        """The id of experiment `name`, created with artifacts under `.mlops/` if new."""
        with self._lock:
            if self._store is not None and (found := self._store.experiment_id(name)):
                return found
            if self._store is not None and (
                made := self._store.create_experiment(name, self.artifacts)
            ):
                return made
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
        values = {key: str(value)[:6000] for key, value in (params or {}).items()}
        with self._lock:
            if self._store is not None:
                return self._store.create_run(experiment_id, name, all_tags, values)
            from mlflow.entities import Param

            run = self._client.create_run(experiment_id, run_name=name, tags=all_tags)
            if values:
                batch = [Param(key, value) for key, value in values.items()]
                self._client.log_batch(run.info.run_id, params=batch)
        return run.info.run_id

    def end(self, mlflow_run_id: str, status: str) -> None:
        """Close a run (FINISHED, FAILED, KILLED); the step's own MLflow may have closed it."""
        with self._lock:
            if self._store is not None:
                self._store.end_run(mlflow_run_id, status)
            else:
                self._client.set_terminated(mlflow_run_id, status=status)

    def tag(self, mlflow_run_id: str, tags: dict[str, str]) -> None:
        with self._lock:
            if self._store is not None:
                self._store.set_tags(mlflow_run_id, tags)
                return
            for key, value in tags.items():
                self._client.set_tag(mlflow_run_id, key, value)

    def copy_metrics(self, source: str, target: str) -> None:
        """Give a reused step's run the metrics of the run it reuses, as Azure ML shows them."""
        with self._lock:
            if self._store is not None:
                self._store.log_metrics(target, self._store.latest_metrics(source))
                return
            metrics = self._client.get_run(source).data.metrics
            for key, value in metrics.items():
                self._client.log_metric(target, key, value)

    def metric_history(self, mlflow_run_id: str, key: str) -> list[float]:
        """Every value run `mlflow_run_id` logged for metric `key`, in logging order (a sweep
        applies its early termination policy to them while the trial runs)."""
        with self._lock:
            if self._store is not None:
                return self._store.metric_history(mlflow_run_id, key)
            history = self._client.get_metric_history(mlflow_run_id, key)
        return [m.value for m in sorted(history, key=lambda m: (m.step, m.timestamp))]

    def log_metrics(self, mlflow_run_id: str, metrics: dict[str, float]) -> None:
        with self._lock:
            if self._store is not None:
                self._store.log_metrics(mlflow_run_id, metrics)
                return
            for key, value in metrics.items():
                self._client.log_metric(mlflow_run_id, key, value)

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
        parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
        return [_tracked(self._settle(r)) for r in parents]

    def _settle(self, run: Any) -> Any:
        """A RUNNING run whose `mlops run` process is gone (killed, crashed, machine restarted)
        is marked FAILED with its unfinished steps, so nothing shows as running forever."""
        if run.info.status != "RUNNING" or not _owner_gone(dict(run.data.tags)):
            return run
        with self._lock:
            children = self._client.search_runs(
                [run.info.experiment_id],
                filter_string=f"tags.`mlflow.parentRunId` = '{run.info.run_id}'",
            )
            for child in children:
                if child.info.status == "RUNNING":
                    self._client.set_terminated(child.info.run_id, status="FAILED")
            self._client.set_tag(run.info.run_id, "mlops.ended", "its process was gone")
            self._client.set_terminated(run.info.run_id, status="FAILED")
            return self._client.get_run(run.info.run_id)

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
