"""The local endpoint runs in deployment.environment, resolved as steps' environments are,
and `mlops package` builds on that environment's image: what is served locally is what the
image holds.

One test runs the default path for real: `mlops up` in isolated mode on the reference
project builds the curated scikit-learn 1.5 environment (about 20 s from PyPI into the
session's cache) and serves the champion from it. The others need no build.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psutil
import pytest

from mlops.environments import resolve
from tests.conftest import REPO, run_cli

CURATED = "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"


@pytest.fixture
def reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the reference project (no state), as the current folder."""
    root = tmp_path / "diagnosis"
    root.mkdir()
    shutil.copy(REPO / "mlops.yaml", root)
    for folder in ("src", "pipelines", "data"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns(".mlops"))
    monkeypatch.chdir(root)
    yield root
    run_cli("deploy", "--env", "local", "--stop")  # never leave a server behind


def _with_environment(root: Path, reference: str) -> None:
    text = (root / "mlops.yaml").read_text()
    (root / "mlops.yaml").write_text(
        text.replace("deployment:\n", f"deployment:\n  environment: {reference}\n", 1)
    )


def test_up_serves_the_champion_in_the_curated_environment_the_package_builds_on(
    reference: Path, env_cache: Path
) -> None:
    cache = {"MLOPS_CACHE_DIR": str(env_cache)}
    up = run_cli("up", "--env-mode", "isolated", "-o", "json", env=cache)
    assert up.exit_code == 0, up.stdout + up.stderr
    summary = up.json()
    assert summary["ok"] and summary["smoke"]["ok"]

    expected = resolve(CURATED, base=reference)
    endpoint = summary["endpoint"]
    assert endpoint["environment"] == expected.digest[:12]
    python = psutil.Process(endpoint["pid"]).cmdline()[0]
    assert Path(python).is_relative_to(env_cache / "envs" / expected.digest)
    served = subprocess.run(
        [python, "-c", "import sklearn, pandas; print(sklearn.__version__, pandas.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert served[0].startswith("1.5.") and served[1].startswith("1.5.")  # the image's pins

    listed = run_cli("env", "list", "-o", "json", env=cache).json()
    users = next(e["used_by"] for e in listed if e["digest"] == expected.digest)
    assert "mlops.yaml deployment.environment" in users

    package = run_cli("package", "--out", str(reference.parent / "ctx"), "-o", "json").json()
    assert (
        package["base_image"]
        == expected.image
        == "mcr.microsoft.com/azureml/curated/sklearn-1.5:latest"
    )
    assert f"FROM {expected.image}" in (reference.parent / "ctx" / "Dockerfile").read_text()

    current = run_cli("deploy", "--env", "local", "--env-mode", "current", "-o", "json")
    assert current.exit_code == 0, current.stdout
    assert current.json()["environment"] == "current" and not current.json()["already_serving"]


@pytest.mark.parametrize("command", [("deploy", "--env", "local"), ("package",), ("up",)])
def test_an_environment_this_machine_cannot_rebuild_is_refused_before_anything_runs(
    reference: Path, command: tuple[str, ...]
) -> None:
    _with_environment(reference, "azureml:team-serving-env:3")
    refused = (
        run_cli(*command, "--env-mode", "isolated")
        if command[0] != "package"
        else run_cli(*command)
    )
    assert refused.exit_code == 2
    said = refused.stdout + refused.stderr
    assert "mlops.yaml:" in said and "deployment.environment" in said
    assert "team-serving-env" in said
    assert (
        not (reference / ".mlops" / "runs").exists()
        and not (reference / ".mlops" / "endpoints").exists()
    )


def test_env_mode_is_for_the_local_endpoint_only(reference: Path) -> None:
    refused = run_cli("deploy", "--env", "test", "--env-mode", "current")
    assert refused.exit_code == 2
    assert "--env-mode is for --env local" in refused.stderr
