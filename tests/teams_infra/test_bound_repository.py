"""A model repository bound to a platform plans and provisions no infrastructure of its own:
its team's workspaces, network and roles are the platform's, planned in the platform
repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.teams.conftest import MODEL, PLATFORM, write


@pytest.fixture
def model_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`platform/` and `fraud/` side by side; the current folder is the model repository."""
    platform = PLATFORM.replace(
        "azure: {name_prefix: ct}",
        "azure: {name_prefix: ct, subscription_id: 22222222-2222-2222-2222-222222222222}",
    )
    assert platform != PLATFORM
    write(tmp_path / "platform" / "mlops.yaml", platform)
    write(tmp_path / "fraud" / "mlops.yaml", MODEL)
    monkeypatch.chdir(tmp_path / "fraud")
    return tmp_path


@pytest.mark.parametrize(
    "command",
    [("plan", "--offline"), ("plan",), ("plan", "--env", "dev"), ("provision", "--yes")],
    ids=" ".join,
)
def test_plan_and_provision_in_a_bound_model_repository_exit_2_pointing_at_the_platform(
    model_repository: Path, command: tuple[str, ...]
) -> None:
    before = sorted(p for p in model_repository.rglob("*"))

    result = run_cli(*command)

    assert result.exit_code == 2, result.stdout + result.stderr
    assert "binds this model repository to the platform at '../platform/mlops.yaml'" in (
        result.stderr
    )
    assert "(team fraud)" in result.stderr
    assert "`mlops -c ../platform/mlops.yaml plan`" in result.stderr
    assert sorted(p for p in model_repository.rglob("*")) == before


def test_the_hint_names_the_platforms_file_from_the_current_folder(
    model_repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(model_repository)

    result = run_cli("-c", "fraud/mlops.yaml", "plan", "--offline")

    assert result.exit_code == 2
    assert "`mlops -c platform/mlops.yaml plan`" in result.stderr


def test_the_platform_repository_still_plans_its_teams(model_repository: Path) -> None:
    result = run_cli("-c", str(model_repository / "platform" / "mlops.yaml"), "plan", "--offline")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert "mlw-fraud-dev" in result.stdout
