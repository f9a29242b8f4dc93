"""Fixtures for the multi-team infrastructure tests: the three-team platform configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.config.loader import LoadedConfig, load_config
from mlops.render.files import render, stacks
from tests.infra.conftest import CONFIGS, copy_config

__all__ = ["CONFIGS", "copy_config", "loaded", "resources", "templates"]


def loaded(name: str, folder: Path, extra: str = "") -> LoadedConfig:
    """tests/infra/configs/NAME.yaml copied into `folder` (with `extra` appended), loaded."""
    path = copy_config(name, folder)
    if extra:
        path.write_text(path.read_text() + extra)
    return load_config(path)


def templates(project: LoadedConfig) -> dict[str, dict[str, Any]]:
    return {name: t.to_arm() for name, t in stacks(project.config).items()}


def resources(template: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [r for r in template["resources"] if r["type"] == rtype]


def files(project: LoadedConfig) -> dict[str, str]:
    return {f.path: f.text for f in render(project.config)}
