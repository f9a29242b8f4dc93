"""`mlops init DIR --platform PATH_OR_URL --team NAME`: a model repository bound to a
platform, whose own tests and local loop work exactly as a single repository's do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlops.config import load_config
from tests.conftest import run_cli
from tests.teams.conftest import PLATFORM, write


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A platform checkout in `tmp_path/platform`; the current folder is `tmp_path`."""
    monkeypatch.chdir(tmp_path)
    return write(tmp_path / "platform" / "mlops.yaml", PLATFORM)


def init(*args: str):
    return run_cli("init", *args, "-o", "json")


def test_the_new_repository_holds_only_its_project_sections_and_names_its_platform(platform):
    result = init("fraud-batch", "--platform", "platform", "--team", "fraud")
    assert result.exit_code == 0, result.stderr
    root = Path(result.json()["root"])
    from ruamel.yaml import YAML

    written = YAML(typ="safe").load((root / "mlops.yaml").read_text())
    assert list(written) == ["project", "platform", "data", "model", "deployment"]
    assert written["platform"] == {"path": "../platform/mlops.yaml", "team": "fraud"}
    loaded = load_config(root / "mlops.yaml")
    assert loaded.config.azure.name_prefix == "ct"  # from the platform
    assert loaded.config.devops.repository == "fraud-batch"
    assert loaded.warnings == []


def test_the_new_repository_validates_and_its_rendered_files_are_current(platform, monkeypatch):
    assert (
        init("fraud-batch", "--platform", "platform/mlops.yaml", "--team", "fraud").exit_code == 0
    )
    monkeypatch.chdir(platform.parent.parent / "fraud-batch")
    assert run_cli("config", "validate").exit_code == 0
    check = run_cli("render", "--check")
    assert check.exit_code == 0, check.stderr


def test_a_platform_url_binds_to_the_checkout_beside_the_new_repository(platform):
    url = "https://dev.azure.com/contoso/ml/_git/platform"
    result = init("fraud-batch", "--platform", url, "--team", "fraud")
    assert result.exit_code == 0, result.stderr
    binding = load_config(Path(result.json()["root"]) / "mlops.yaml").config.platform
    assert binding is not None
    assert (binding.repository, binding.ref, binding.path) == (
        "platform",
        "refs/heads/main",
        "../platform/mlops.yaml",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--platform", "platform"], "--team is missing"),
        (["--team", "fraud"], "--platform is missing"),
        (["--platform", "nowhere", "--team", "fraud"], "no platform config at nowhere"),
        (
            ["--platform", "platform", "--team", "risk"],
            "team 'risk' is not declared in platform/mlops.yaml",
        ),
        (
            ["--platform", "platform", "--team", "fraud", "--name", "scoring"],
            "team 'fraud' does not own a repository 'scoring'",
        ),
        (
            ["--platform", "https://dev.azure.com/contoso/ml/_git/core", "--team", "fraud"],
            "the platform repository 'core' is not checked out beside fraud-batch",
        ),
    ],
)
def test_init_refuses_a_binding_that_cannot_hold_and_writes_nothing(platform, args, message):
    result = run_cli("init", "fraud-batch", *args)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert not (platform.parent.parent / "fraud-batch").exists()


def test_names_are_judged_with_the_platforms_prefix(platform):
    text = platform.read_text().replace("[fraud, fraud-batch]", "[fraud, fraudandriskmodels]")
    platform.write_text(text.replace("name_prefix: ct", "name_prefix: contosoeu"))
    result = run_cli("init", "fraudandriskmodels", "--platform", "platform", "--team", "fraud")
    assert result.exit_code == 2
    assert "'stcontosoeufraudandriskmodelsdev" in result.stderr


def test_a_bound_repository_passes_its_own_tests_and_runs_mlops_up_locally(platform, monkeypatch):
    result = init("fraud-batch", "--platform", "platform", "--team", "fraud")
    assert result.exit_code == 0, result.stderr
    root = Path(result.json()["root"])
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    monkeypatch.chdir(root)
    try:
        up = run_cli("up", "-o", "json")
        assert up.exit_code == 0, up.stdout + up.stderr
        done = up.json()
        assert done["ok"] and [s["step"] for s in done["steps"]] == [
            "set up",
            "train, gate, register",
            "deploy",
            "smoke test",
        ]
    finally:
        run_cli("deploy", "--env", "local", "--stop")  # never leave a server behind
