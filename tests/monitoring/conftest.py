"""Fixtures for monitoring: the reference project's mlops.yaml with a monitoring section."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops.config import LoadedConfig, load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def reference_config(tmp_path: Path) -> Callable[[str], LoadedConfig]:
    """The repository's own mlops.yaml plus `extra` YAML, loaded from a copy of the project
    (mlops.yaml and src/, which the deployment spec points the loaders at)."""

    def load(extra: str = "") -> LoadedConfig:
        root = tmp_path / "project"
        if not root.exists():
            shutil.copytree(REPO / "src", root / "src")
            shutil.copytree(REPO / "schemas", root / "schemas")
        text = (REPO / "mlops.yaml").read_text(encoding="utf-8")
        (root / "mlops.yaml").write_text(text + "\n" + extra, encoding="utf-8")
        return load_config(root / "mlops.yaml")

    return load
