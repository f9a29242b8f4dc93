"""`mlops run` runs each step in the environment its component declares (--env-mode isolated).

Real runs, real uv builds into the session's shared cache, tiny PyPI packages only (six,
tomli-w, mlflow-skinny): the suite's default is --env-mode current (tests/conftest.py).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult, run_cli

FIXTURES = Path(__file__).parent / "fixtures"
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture
def envs_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env_cache: Path
) -> Callable[..., CliResult]:
    """Copy the `versions` fixture into a project (conda files asking for this Python), cd
    there; return a function running `mlops run ARGS -o json` on the session's env cache."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURES / "versions", root)
    for conda in (root / "envs").glob("*.yml"):
        conda.write_text(conda.read_text().replace("{python}", PYTHON))
    (root / "mlops.yaml").write_text("project: {name: envs}\n")
    monkeypatch.chdir(root)

    def run(*args: str) -> CliResult:
        return run_cli("run", *args, "-o", "json", env={"MLOPS_CACHE_DIR": str(env_cache)})

    return run


def _steps(result: CliResult) -> dict[str, dict]:
    assert result.exception is None, repr(result.exception)
    return {s["step"]: s for s in result.json()["steps"]}


def _said(result: CliResult) -> str:
    """Everything a run told the user: with -o json an error is a JSON object on stdout."""
    return result.stdout + result.stderr


def _seen(step: dict) -> dict:
    return json.loads((Path(step["outputs"]["seen"]) / "seen.json").read_text())


def test_two_components_pinning_different_versions_each_see_their_own(envs_project, env_cache):
    done = envs_project("pipeline.yml", "--env-mode", "isolated")
    assert done.exit_code == 0, done.stderr
    steps = _steps(done)
    old, new = _seen(steps["old"]), _seen(steps["new"])
    assert old["six"] == "1.15.0" and new["six"] == "1.16.0"
    for seen in (old, new):  # each in its own venv of the shared cache, not the CLI's
        assert Path(seen["prefix"]).parent == env_cache / "envs"
        assert seen["virtual_env"] == seen["prefix"]
    assert old["prefix"] != new["prefix"]


def test_a_component_gets_a_package_the_cli_environment_lacks(envs_project):
    with pytest.raises(ImportError):
        __import__("tomli_w")
    done = envs_project("extra.yml", "--env-mode", "isolated")
    assert done.exit_code == 0, done.stderr
    written = Path(_steps(done)["extra"]["outputs"]["written"]) / "out.toml"
    assert written.read_text().strip() == "ok = true"


def test_second_run_reuses_envs_and_steps_until_a_conda_file_changes(envs_project):
    first = envs_project("pipeline.yml", "--env-mode", "isolated")
    assert first.exit_code == 0, first.stderr
    prefix = Path(_seen(_steps(first)["old"])["prefix"])
    marker = prefix / "marker-of-this-build"
    marker.touch()

    second = envs_project("pipeline.yml", "--env-mode", "isolated")
    assert second.exit_code == 0, second.stderr
    assert "building environment" not in second.stderr
    assert marker.exists()  # the very same folder: not rebuilt
    assert {s["status"] for s in _steps(second).values()} == {"reused"}

    conda = Path("envs/old.yml")
    conda.write_text(conda.read_text().replace("six==1.15.0", "six==1.14.0"))
    third = envs_project("pipeline.yml", "--env-mode", "isolated")
    assert third.exit_code == 0, third.stderr
    steps = _steps(third)
    assert steps["old"]["status"] == "completed" and steps["new"]["status"] == "reused"
    assert _seen(steps["old"])["six"] == "1.14.0"


def test_isolated_step_logs_metrics_through_the_tracking_server(envs_project):
    done = envs_project("metric.yml", "--env-mode", "isolated")
    assert done.exit_code == 0, done.stderr
    summary = done.json()
    log = Path(summary["steps"][0]["log"]).read_text()
    assert "tracking: http://127.0.0.1:" in log  # not sqlite://: mlflow-skinny has no SQL store
    shown = run_cli("runs", "show", summary["run_id"], "-o", "json")
    assert shown.exit_code == 0, shown.stderr
    [step] = shown.json()["steps"]
    assert step["metrics"]["accuracy"] == pytest.approx(0.93)


def test_env_mode_current_runs_every_step_in_the_cli_environment(envs_project):
    import six

    done = envs_project("pipeline.yml", "--env-mode", "current")
    assert done.exit_code == 0, done.stderr
    steps = _steps(done)
    for name in ("old", "new"):
        assert _seen(steps[name])["six"] == six.__version__
        assert _seen(steps[name])["prefix"] == sys.prefix


def test_registered_env_is_refused_before_any_step_in_isolated_mode_runs_in_current(
    envs_project,
):
    refused = envs_project("registered.yml", "--env-mode", "isolated")
    assert refused.exit_code == 2
    assert "my-env" in _said(refused) and "registered.yml" in _said(refused)
    assert not Path(".mlops/runs").exists() or not any(Path(".mlops/runs").iterdir())

    done = envs_project("registered.yml", "--env-mode", "current")
    assert done.exit_code == 0, done.stderr
    assert _steps(done)["registered"]["status"] == "completed"


def test_env_mode_comes_from_mlops_env_mode_and_bad_values_exit_2(envs_project, monkeypatch):
    monkeypatch.setenv("MLOPS_ENV_MODE", "isolated")
    refused = envs_project("registered.yml")
    assert refused.exit_code == 2 and "my-env" in _said(refused)
    monkeypatch.setenv("MLOPS_ENV_MODE", "docker")
    bad = envs_project("registered.yml")
    assert bad.exit_code == 2 and "MLOPS_ENV_MODE" in _said(bad)


def test_a_build_failure_exits_1_naming_the_environment_and_the_step(envs_project):
    conda = Path("envs/new.yml")
    conda.write_text(conda.read_text().replace("six==1.16.0", "six==0.0.1"))
    failed = envs_project("pipeline.yml", "--env-mode", "isolated")
    assert failed.exit_code == 1
    message = failed.json()["message"]
    assert "new.yml" in message and "step(s) new" in message and "six" in message
    assert not Path(".mlops/runs").exists() or not any(Path(".mlops/runs").iterdir())


def _answers(uri: str, timeout: float = 2) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=timeout):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("stop", ["SIGTERM", "timeout"])
def test_the_tracking_server_stops_with_the_run_however_it_ends(
    envs_project, env_cache, tmp_path, stop
):
    import os
    import signal
    import subprocess
    import time

    from tests.pipelines.test_stopping import survivors, wait_for

    root, started = Path.cwd(), tmp_path / "started"
    Path("slow.yml").write_text(
        "type: pipeline\n"
        "jobs:\n"
        "  slow:\n"
        "    type: command\n"
        f"    command: echo $MLFLOW_TRACKING_URI > {started}.tmp && mv {started}.tmp {started}"
        " && python -c 'import time; time.sleep(60)'\n"
        "    environment:\n"
        "      image: mcr.microsoft.com/azureml/openmpi5.0-ubuntu24.04\n"
        "      conda_file: envs/new.yml\n"
    )
    timeout = ["--timeout", "0.1"] if stop == "timeout" else []
    run = subprocess.Popen(
        [sys.executable, "-m", "mlops", "run", "slow.yml", "--env-mode", "isolated", *timeout],
        cwd=root,
        env={**os.environ, "MLOPS_CACHE_DIR": str(env_cache)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(started, run)
    uri = started.read_text().strip()
    # listening from the start: a step may ask before the app is up, and gets its answer
    assert uri.startswith("http://127.0.0.1:") and _answers(uri, timeout=60)
    if stop == "SIGTERM":
        run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=60) == (143 if stop == "SIGTERM" else 1)
    deadline = time.monotonic() + 10
    while survivors(f"{root}/.mlops/mlflow.db") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert survivors(f"{root}/.mlops/mlflow.db") == []
    assert not _answers(uri)
