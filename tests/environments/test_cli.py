"""`mlops env list|build|prune` through the CLI, on the session's shared cache or a fresh one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
type: command
name: hello
command: python -c "import six; print(six.__version__)"
environment:
  image: mcr.microsoft.com/azureml/openmpi5.0-ubuntu24.04
  conda_file: conda.yml
"""


@pytest.fixture
def component(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conda.yml").write_text(
        "dependencies:\n  - pip:\n      - six==1.16.0\n", encoding="utf-8"
    )
    path = tmp_path / "hello.yml"
    path.write_text(COMPONENT, encoding="utf-8")
    return path


def test_build_then_list_shows_the_env_and_the_component_using_it(env_cache, component):
    env = {"MLOPS_CACHE_DIR": str(env_cache)}
    built = run_cli("env", "build", str(component), "-o", "json", env=env)
    assert built.exit_code == 0, built.stderr
    [entry] = built.json()
    assert entry["kind"] == "conda" and entry["used_by"] == ["hello.yml"]
    assert Path(entry["bin"], "python").exists()
    listed = run_cli("env", "list", "-o", "json", env=env).json()
    mine = [r for r in listed if r["digest"] == entry["digest"]]
    assert mine and mine[0]["used_by"][0] == "hello.yml" and mine[0]["size"] > 0
    table = run_cli("env", "list", env={**env, "COLUMNS": "200"})
    assert entry["digest"][:12] in table.stdout


def test_build_defaults_to_pipelines_folder(env_cache, component):
    (component.parent / "pipelines").mkdir()
    component.rename(component.parent / "pipelines" / "hello.yml")
    (component.parent / "conda.yml").rename(component.parent / "pipelines" / "conda.yml")
    built = run_cli("env", "build", "-o", "json", env={"MLOPS_CACHE_DIR": str(env_cache)})
    assert built.exit_code == 0, built.stderr
    assert built.json()[0]["used_by"] == [str(Path("pipelines", "hello.yml"))]


def test_build_refuses_registered_env_it_cannot_rebuild_with_exit_2(tmp_path, component):
    component.write_text(
        COMPONENT.split("environment:")[0] + "environment: azureml:my-env:3\n", encoding="utf-8"
    )
    done = run_cli("env", "build", str(component), env={"MLOPS_CACHE_DIR": str(tmp_path / "c")})
    assert done.exit_code == 2
    assert "hello.yml" in done.stderr and "my-env" in done.stderr
    assert "--env-mode current" in done.stderr


def test_build_refuses_missing_path_with_exit_2(tmp_path):
    done = run_cli("env", "build", str(tmp_path / "nope.yml"))
    assert done.exit_code == 2


def test_prune_all_removes_envs_and_leftovers_printing_freed_size(tmp_path, component):
    cache = tmp_path / "cache"
    env = {"MLOPS_CACHE_DIR": str(cache)}
    assert run_cli("env", "build", str(component), env=env).exit_code == 0
    leftover = cache / "envs" / f".tmp-{'0' * 64}-1-deadbeef"
    (leftover / "bin").mkdir(parents=True)
    kept = run_cli("env", "prune", "--older-than", "30", "-o", "json", env=env).json()
    assert kept["removed"] == [] and kept["leftovers"] == [str(leftover)]
    pruned = run_cli("env", "prune", "--all", env=env)
    assert pruned.exit_code == 0
    assert "freed" in pruned.stderr and "1 environment(s)" in pruned.stderr
    assert run_cli("env", "list", "-o", "json", env=env).json() == []


PROBE = """
import json, sys
sys.argv = ["mlops", "env", {command!r}, "--help"]
from mlops.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.__stderr__)
"""


@pytest.mark.parametrize("command", ["list", "build", "prune"])
def test_env_help_imports_no_sdk_nor_uv(command):
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(command=command)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    loaded = {m.split(".")[0] for m in json.loads(done.stderr.strip().splitlines()[-1])}
    assert loaded.isdisjoint({"azure", "mlflow", "uv", "filelock", "pandas", "numpy"})


def test_environment_spec_layer_is_pure():
    code = "import sys, mlops.environments.spec; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    roots = {m.split(".")[0] for m in done.stdout.split()}
    assert roots.isdisjoint({"azure", "mlflow", "typer", "rich", "click", "uv", "filelock"})
