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


class Registry:
    def __init__(self, state_dir: Path) -> None:
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        from mlops.backends.local.tracking import open_client

        self._uri = f"sqlite:///{state_dir.resolve() / 'mlflow.db'}"
        self._client = open_client(state_dir)

    def names(self) -> list[str]:
        return sorted(m.name for m in self._client.search_registered_models())

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of `name`, newest first ([] when the model is unknown). `champion`
        is where the rule both backends share puts it (`mlops.gate.champion`), which the
        alias follows unless a registration was killed between its two writes."""
        from dataclasses import replace

        from mlops.gate import CHAMPION, champion

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
        from mlflow.exceptions import MlflowException

        from mlops.gate import CHAMPION

        versions = self.versions(name)
        if alias == CHAMPION:
            version = next((v.version for v in versions if CHAMPION in v.aliases), None)
            if version is None:
                return None
            alias = None
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
        try:
            path = self._client.download_artifacts(run_id, "gate_report.json")
        except Exception:  # no report logged with this version: shown as absent
            return None
        return json.loads(Path(path).read_text(encoding="utf-8"))


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
