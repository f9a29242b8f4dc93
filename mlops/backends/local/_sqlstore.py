"""The MLflow store's tables read and written with sqlite3: the warm path without MLflow.

Importing MLflow's SQL store costs 2.5 s, more than a warm one-step run should take in all.
The runner's bookkeeping (runs, tags, params, metrics) and the registry's reads are a few
rows, so once MLflow has created or migrated the store (`tracking.open_client`), they go to
the same tables directly, as MLflow's own `SqlAlchemyStore` writes them. Only a store whose
schema is the one MLflow left there, with the same MLflow installed, is used this way
(`Store.open` returns None otherwise, and callers use MLflow): a new MLflow that migrates the
schema is back on the slow path until it has migrated.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

DB, MARKER = "mlflow.db", "mlflow.schema.json"
DELETED_STAGE = "Deleted_Internal"


def _installed() -> str:
    try:
        return metadata.version("mlflow")
    except metadata.PackageNotFoundError:
        return ""


def _head(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def remember_schema(state_dir: Path) -> None:
    """Record the schema MLflow just created or checked, with the MLflow that did it: what
    `Store.open` later requires before it touches the tables."""
    db = state_dir / DB
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as connection:
            head = _head(connection)
    except sqlite3.Error:
        return
    if head is None:
        return
    marker = state_dir / MARKER
    text = json.dumps({"mlflow": _installed(), "alembic": head}) + "\n"
    if not marker.is_file() or marker.read_text(encoding="utf-8") != text:
        temporary = marker.with_suffix(".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(marker)


class Store:
    """Rows of MLflow's tracking and registry tables. Not thread-safe: callers lock."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    def open(cls, state_dir: Path) -> Store | None:
        """The store when MLflow created or migrated it and nothing changed since (same MLflow,
        same schema head); None otherwise: then use MLflow."""
        db, marker = state_dir / DB, state_dir / MARKER
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not db.is_file() or recorded.get("mlflow") != _installed():
            return None
        try:
            connection = sqlite3.connect(db, timeout=60, check_same_thread=False)
        except sqlite3.Error:
            return None
        if _head(connection) != recorded.get("alembic"):
            connection.close()
            return None
        connection.isolation_level = None  # autocommit; writes take BEGIN IMMEDIATE themselves
        return cls(connection)

    def close(self) -> None:
        self._db.close()

    # --- tracking -------------------------------------------------------------------------

    def experiment_id(self, name: str) -> str | None:
        row = self._db.execute(
            "SELECT experiment_id FROM experiments WHERE name = ? AND lifecycle_stage = 'active'",
            (name,),
        ).fetchone()
        return None if row is None else str(row[0])

    def create_experiment(self, name: str, artifact_location: str) -> str | None:
        """An active experiment `name` with its artifacts at `artifact_location`, as MLflow's
        `create_experiment` adds it; its id (another process's, when it made it first), or
        None when a deleted experiment holds the name (MLflow explains that)."""
        now = _now()
        with self._write() as db:
            taken = db.execute(
                "SELECT experiment_id, lifecycle_stage FROM experiments WHERE name = ?", (name,)
            ).fetchone()
            if taken is not None:
                return str(taken[0]) if taken[1] == "active" else None
            cursor = db.execute(
                "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time,"
                " last_update_time) VALUES (?, ?, 'active', ?, ?)",
                (name, artifact_location, now, now),
            )
        return str(cursor.lastrowid)

    def create_run(
        self,
        experiment_id: str,
        name: str,
        tags: Mapping[str, str],
        params: Mapping[str, str],
    ) -> str:
        """A RUNNING run, as MLflow's `create_run` leaves it (run name also as a tag)."""
        run_id = uuid.uuid4().hex
        with self._write() as db:
            (location,) = db.execute(
                "SELECT artifact_location FROM experiments WHERE experiment_id = ?",
                (int(experiment_id),),
            ).fetchone()
            db.execute(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name,"
                " user_id, status, start_time, end_time, source_version, lifecycle_stage,"
                " artifact_uri, experiment_id, deleted_time)"
                " VALUES (?, ?, 'UNKNOWN', '', '', 'unknown', 'RUNNING', ?, NULL, '', 'active',"
                " ?, ?, NULL)",
                (
                    run_id,
                    name,
                    _now(),
                    f"{location.rstrip('/')}/{run_id}/artifacts",
                    int(experiment_id),
                ),
            )
            self._tags(db, run_id, {**tags, "mlflow.runName": name})
            db.executemany(
                "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                [(key, value, run_id) for key, value in params.items()],
            )
        return run_id

    def end_run(self, run_id: str, status: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?",
                (status, _now(), run_id),
            )

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        with self._write() as db:
            self._tags(db, run_id, tags)

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        """Each metric at step 0, now; the latest value as MLflow keeps it."""
        now = _now()
        rows = [(key, float(value), now, run_id) for key, value in metrics.items()]
        with self._write() as db:
            self._metrics(db, rows)

    def latest_metrics(self, run_id: str) -> dict[str, float]:
        rows = self._db.execute(
            "SELECT key, value FROM latest_metrics WHERE run_uuid = ?", (run_id,)
        ).fetchall()
        return {key: value for key, value in rows}

    def metric_history(self, run_id: str, key: str) -> list[float]:
        rows = self._db.execute(
            "SELECT value FROM metrics WHERE run_uuid = ? AND key = ? ORDER BY step, timestamp",
            (run_id, key),
        ).fetchall()
        return [value for (value,) in rows]

    # --- registry -------------------------------------------------------------------------

    def model_versions(self, name: str) -> list[dict[str, Any]]:
        """Every live version of registered model `name` with its tags and aliases."""
        versions = {
            str(row[0]): {
                "version": str(row[0]),
                "created_ms": row[1] or 0,
                "description": row[2] or "",
                "run_id": row[3],
                "source": row[4] or "",
                "tags": {},
                "aliases": [],
            }
            for row in self._db.execute(
                "SELECT version, creation_time, description, run_id, source FROM model_versions"
                " WHERE name = ? AND current_stage != ?",
                (name, DELETED_STAGE),
            )
        }
        for version, key, value in self._db.execute(
            "SELECT version, key, value FROM model_version_tags WHERE name = ?", (name,)
        ):
            if str(version) in versions:
                versions[str(version)]["tags"][key] = value
        for alias, version in self._db.execute(
            "SELECT alias, version FROM registered_model_aliases WHERE name = ?", (name,)
        ):
            if str(version) in versions:
                versions[str(version)]["aliases"].append(alias)
        return list(versions.values())

    def storage_location(self, name: str, version: str) -> str | None:
        """Where a version's files are (MLflow copies them there when it registers it)."""
        row = self._db.execute(
            "SELECT storage_location, source FROM model_versions WHERE name = ? AND version = ?"
            " AND current_stage != ?",
            (name, int(version), DELETED_STAGE),
        ).fetchone()
        return None if row is None else (row[0] or row[1])

    def artifact_uri(self, run_id: str) -> str | None:
        row = self._db.execute(
            "SELECT artifact_uri FROM runs WHERE run_uuid = ?", (run_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    # --- helpers --------------------------------------------------------------------------

    def _write(self) -> _Transaction:
        return _Transaction(self._db)

    @staticmethod
    def _tags(db: sqlite3.Connection, run_id: str, tags: Mapping[str, str]) -> None:
        db.executemany(
            "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)"
            " ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value",
            [(key, str(value), run_id) for key, value in tags.items()],
        )

    @staticmethod
    def _metrics(db: sqlite3.Connection, rows: Iterable[tuple[str, float, int, str]]) -> None:
        for key, value, timestamp, run_id in rows:
            db.execute(
                "INSERT OR IGNORE INTO metrics (key, value, timestamp, run_uuid, step, is_nan)"
                " VALUES (?, ?, ?, ?, 0, 0)",
                (key, value, timestamp, run_id),
            )
            db.execute(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
                " VALUES (?, ?, ?, 0, 0, ?) ON CONFLICT (key, run_uuid) DO UPDATE SET"
                " value = excluded.value, timestamp = excluded.timestamp, step = 0, is_nan = 0"
                " WHERE excluded.timestamp >= latest_metrics.timestamp",
                (key, value, timestamp, run_id),
            )


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): one writer at a time, as MLflow's."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, kind: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if kind is not None else "COMMIT")


def _now() -> int:
    return int(time.time() * 1000)
