"""Fixtures for the infrastructure tests: configs in both network modes and a fake ARM."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from tests.infra.arm_fake import FakeArm, FakeCredential

CONFIGS = Path(__file__).parent / "configs"


@pytest.fixture
def arm() -> FakeArm:
    return FakeArm()


@pytest.fixture
def clients(arm: FakeArm) -> AzureClients:
    """Real SDK clients whose every request goes to the fake; polling and backoff kept short."""
    return AzureClients(
        FakeCredential(), arm, {"polling_interval": 0, "retry_backoff_factor": 0.01}
    )


def copy_config(name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "mlops.yaml"
    shutil.copy(CONFIGS / f"{name}.yaml", target)
    return target


@pytest.fixture
def vnet_project(tmp_path: Path) -> LoadedConfig:
    return load_config(copy_config("vnet", tmp_path))
