"""The local MLflow model registry (SQLite under `.mlops/`): versions, aliases, gate reports.

MLflow types stay here; callers get `ModelVersion` records.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    aliases: list[str]
    created_ms: int
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    run_id: str | None = None
    source: str = ""
    gate_report: dict[str, Any] | None = None


def champion_version(state_dir: Path, name: str) -> str:
    """The `champion_version` pipeline input: the champion of `name` by the rule both backends
    share, "none" when there is none (or no store yet). Read without MLflow when it can be."""
    from mlops.gate import champion_version as rule

    if not (state_dir / "mlflow.db").is_file():
        return rule([])
    return rule(Registry(state_dir).versions(name))


class Registry:
    """Reads go to the store's tables when MLflow made them (`_sqlstore`: no MLflow import);
    downloads and anything else through MLflow's client, opened on first use."""

    def __init__(self, state_dir: Path) -> None:
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        from mlops.backends.local._sqlstore import Store

        self._state = state_dir
        self._uri = f"sqlite:///{state_dir.resolve() / 'mlflow.db'}"
        self._opened: Any = None
        self._store = Store.open(state_dir.resolve())
        if self._store is None:
            self._opened = self._open()

    def _open(self) -> Any:
        from mlops.backends.local.tracking import open_client

        return open_client(self._state)

    @property
    def _client(self) -> Any:
        if self._opened is None:
            self._opened = self._open()
        return self._opened

    def names(self) -> list[str]:
        return sorted(m.name for m in self._client.search_registered_models())

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of `name`, newest first ([] when the model is unknown). `champion`
        is where the rule both backends share puts it (`mlops.gate.champion`), which the
        alias follows unless a registration was killed between its two writes."""
        from dataclasses import replace

        from mlops.gate import CHAMPION, champion

        if self._store is not None:
            versions = [ModelVersion(name=name, **row) for row in self._store.model_versions(name)]
            for v in versions:
                v.aliases.sort()
        else:
            aliases = self._aliases(name)
            found = self._client.search_model_versions(f"name = '{_quoted(name)}'")
            versions = [_version(v, aliases) for v in found]
        chosen = champion(versions)
        versions = [
            replace(
                v,
                aliases=sorted(
                    {a for a in v.aliases if a != CHAMPION} | ({CHAMPION} if v is chosen else set())
                ),
            )
            for v in versions
        ]
        return sorted(versions, key=lambda v: int(v.version), reverse=True)

    def get(self, name: str, version: str | None = None, alias: str | None = None):
        """One version by number or alias, with its gate report; None when there is none."""
        from mlops.gate import CHAMPION

        versions = self.versions(name)
        if alias == CHAMPION:
            version = next((v.version for v in versions if CHAMPION in v.aliases), None)
            if version is None:
                return None
            alias = None
        if self._store is not None:
            if alias is not None:
                version = next((v.version for v in versions if alias in v.aliases), None)
            record = next((v for v in versions if v.version == str(version)), None)
            if record is None:
                return None
            return ModelVersion(**{**record.__dict__, "gate_report": self._report(record.run_id)})
        from mlflow.exceptions import MlflowException

        try:
            if alias is not None:
                found = self._client.get_model_version_by_alias(name, alias)
            else:
                found = self._client.get_model_version(name, str(version))
        except MlflowException:
            return None
        record = next((v for v in versions if v.version == str(found.version)), None)
        if record is None:
            return None
        return ModelVersion(**{**record.__dict__, "gate_report": self._report(record.run_id)})

    def download(self, name: str, version: str, destination: Path) -> Path:
        """Copy a version's model files into `destination`; return the folder holding MLmodel."""
        local = self._local_model(name, version)
        if local is not None:  # files on this machine: a copy, as MLflow would make it
            import shutil

            shutil.copytree(local, destination / local.name, dirs_exist_ok=True)
            return destination / local.name
        import mlflow

        source = self._client.get_model_version_download_uri(name, version)
        destination.mkdir(parents=True, exist_ok=True)
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=str(destination), tracking_uri=self._uri
        )
        return Path(local)

    def _aliases(self, name: str) -> dict[str, list[str]]:
        from mlflow.exceptions import MlflowException

        try:
            model = self._client.get_registered_model(name)
        except MlflowException:
            return {}
        by_version: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            by_version.setdefault(str(version), []).append(alias)
        return by_version

    def _report(self, run_id: str | None) -> dict[str, Any] | None:
        if not run_id:
            return None
        local = self._local_artifact(run_id, "gate_report.json")
        if local is not None:
            return json.loads(local.read_text(encoding="utf-8"))
        try:
            path = self._client.download_artifacts(run_id, "gate_report.json")
        except Exception:  # no report logged with this version: shown as absent
            return None
        return json.loads(Path(path).read_text(encoding="utf-8"))

    def _local_model(self, name: str, version: str) -> Path | None:
        """The folder of a version's files when the store says they are on this machine."""
        location = self._store.storage_location(name, version) if self._store else None
        found = _file_path(location)
        return found if found is not None and found.is_dir() else None

    def _local_artifact(self, run_id: str, path: str) -> Path | None:
        """An artifact of a run whose artifacts are files on this machine, or None."""
        uri = self._store.artifact_uri(run_id) if self._store is not None else None
        folder = _file_path(uri)
        found = None if folder is None else folder / path
        return found if found is not None and found.is_file() else None


def _file_path(uri: str | None) -> Path | None:
    """The path of a `file:` URI; None for any other (or none)."""
    from urllib.parse import unquote, urlparse

    if not uri or not uri.startswith("file:"):
        return None
    return Path(unquote(urlparse(uri).path))


def _quoted(name: str) -> str:
    return name.replace("'", "''")


def _version(found: Any, aliases: dict[str, list[str]]) -> ModelVersion:
    return ModelVersion(
        name=found.name,
        version=str(found.version),
        aliases=sorted(aliases.get(str(found.version), [])),
        created_ms=found.creation_timestamp or 0,
        tags=dict(found.tags or {}),
        description=found.description or "",
        run_id=found.run_id,
        source=found.source or "",
    )
