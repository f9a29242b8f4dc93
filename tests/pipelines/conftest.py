"""Pipelines written for the suite, copied into a fresh project per test."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised MLflow store, made once: creating its tables takes seconds."""
    from mlops.backends.local.tracking import Tracking

    state = tmp_path_factory.mktemp("mlflow-template")
    Tracking(state).experiment("Default")
    return state / "mlflow.db"


@pytest.fixture
def pipeline_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_mlflow_db: Path
) -> Callable[..., Path]:
    """Copy fixture `name` into a new project with mlops.yaml and cd there; return its folder."""

    def make(name: str, config: str = "project: {name: suite}\n") -> Path:
        root = tmp_path / "project"
        shutil.copytree(FIXTURES / name, root)
        (root / "mlops.yaml").write_text(config)
        (root / ".mlops").mkdir()
        shutil.copy(empty_mlflow_db, root / ".mlops" / "mlflow.db")
        # the schema MLflow made, as it records it: runs then write the tables directly
        shutil.copy(empty_mlflow_db.with_name("mlflow.schema.json"), root / ".mlops")
        monkeypatch.chdir(root)
        return root

    return make
