"""Environment names that Azure DevOps objects mlops makes already carry: an environment
`promotion` or `platform` would be named like CT's promotion connection or infra.yml's
connection and environment (another identity, other checks), so validation refuses it at
the environment's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.infra.conftest import copy_config


@pytest.mark.parametrize("name", ["promotion", "platform"])
def test_an_environment_named_like_an_azure_devops_object_is_refused_at_its_line(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copy_config("vnet", tmp_path)
    text = path.read_text(encoding="utf-8")
    text = text.replace("  test: {approval", f"  {name}: {{approval", 1)
    path.write_text(text.replace("    test: {client_id", f"    {name}: {{client_id", 1))
    line = (
        path.read_text(encoding="utf-8")
        .splitlines()
        .index(f"  {name}: {{approval: {{approvers: [platform_engineers]}}}}")
    )
    monkeypatch.chdir(tmp_path)

    result = run_cli("config", "validate")

    assert result.exit_code == 2
    assert f"mlops.yaml:{line + 1}:" in result.stderr
    assert f"environment name '{name}' is reserved for the Azure DevOps" in result.stderr
    assert "rename the environment" in result.stderr


def test_the_usual_environment_names_are_not_reserved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config("vnet", tmp_path)
    monkeypatch.chdir(tmp_path)

    result = run_cli("config", "validate")

    assert result.exit_code == 0, result.stderr
    assert "reserved" not in result.stderr
