"""Building environments with uv from PyPI: tiny pure-Python packages only, so it is quick."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlops.environments import EnvSpec, from_requirements, resolve
from mlops.environments.builder import ensure
from mlops.environments.cache import list_envs, read_record
from mlops.errors import BackendError
from tests.conftest import REPO


def _version_seen(bin_dir: Path, module: str) -> str:
    done = subprocess.run(
        [str(bin_dir / "python"), "-c", f"import {module}; print({module}.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_two_envs_pinning_different_versions_each_see_their_own(env_cache):
    new = ensure(from_requirements(["six==1.16.0"]), cache_dir=env_cache)
    old = ensure(from_requirements(["six==1.15.0"]), cache_dir=env_cache)
    assert new is not None and old is not None and new != old
    assert _version_seen(new, "six") == "1.16.0"
    assert _version_seen(old, "six") == "1.15.0"


def test_second_ensure_reuses_the_env_without_building(env_cache):
    spec = from_requirements(["six==1.16.0"])
    first = ensure(spec, cache_dir=env_cache, used_by="a.yml")
    assert first is not None
    marker = first.parent / "marker-of-this-build"
    marker.touch()
    created = read_record(first.parent).created
    messages: list[str] = []
    again = ensure(spec, cache_dir=env_cache, used_by="b.yml", on_progress=messages.append)
    assert again == first
    assert marker.exists()  # the very same folder: not rebuilt
    record = read_record(first.parent)
    assert record.created == created
    assert record.used_by[:2] == ["b.yml", "a.yml"]
    assert not any("building" in m for m in messages)


def test_conda_env_gets_pip_as_conda_would(env_cache, tmp_path):
    spec = resolve({"image": "x", "conda_file": {"dependencies": ["pip"]}}, base=tmp_path)
    bin_dir = ensure(spec, cache_dir=env_cache)
    assert bin_dir is not None and (bin_dir / "pip").exists()


_ENSURE = """
import sys
from pathlib import Path
from mlops.environments import from_requirements
from mlops.environments.builder import ensure
print(ensure(from_requirements(sys.argv[2:]), cache_dir=Path(sys.argv[1]), on_progress=print))
"""


def test_two_processes_ensuring_one_env_build_it_once(tmp_path):
    cache = tmp_path / "cache"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _ENSURE, str(cache), "six==1.14.0"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    stdout = "".join(out for out, _ in outputs)
    assert stdout.count("building environment") == 1
    bins = {out.strip().splitlines()[-1] for out, _ in outputs}
    assert len(bins) == 1
    assert [p.name for p in (cache / "envs").iterdir() if not p.name.endswith(".lock")] == [
        Path(bins.pop()).parent.name
    ]


def test_missing_python_version_falls_back_to_current_with_a_warning(env_cache):
    messages: list[str] = []
    spec = from_requirements(["six==1.12.0"], python="3.99")
    bin_dir = ensure(spec, cache_dir=env_cache, on_progress=messages.append)
    assert bin_dir is not None
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert any("warning: Python 3.99" in m and current in m for m in messages)
    record = read_record(bin_dir.parent)
    assert (record.python, record.python_requested) == (current, "3.99")


def test_current_and_image_kinds_need_no_environment(env_cache):
    assert ensure(EnvSpec("current"), cache_dir=env_cache) is None
    shown: list[str] = []
    image = EnvSpec("image", notice="runs in the current environment")
    assert ensure(image, cache_dir=env_cache, on_progress=shown.append) is None
    assert shown == ["runs in the current environment"]
    assert ensure(from_requirements(["six"]), cache_dir=env_cache, mode="current") is None


def test_failed_install_leaves_no_environment_behind(tmp_path):
    cache = tmp_path / "cache"
    spec = from_requirements([str(tmp_path / "no-such-package")])
    with pytest.raises(BackendError, match="cannot build the environment"):
        ensure(spec, cache_dir=cache)
    assert [p.name for p in (cache / "envs").iterdir() if not p.name.endswith(".lock")] == []
    assert list_envs(cache) == []


_SLOW_BACKEND = """
import pathlib, time
def build_wheel(*args, **kwargs):
    pathlib.Path(__file__).with_name("started").touch()
    time.sleep(120)
get_requires_for_build_wheel = lambda *a, **k: []
"""


def test_ctrl_c_during_a_build_leaves_no_half_environment(tmp_path):
    package = tmp_path / "slow"
    package.mkdir()
    (package / "backend.py").write_text(textwrap.dedent(_SLOW_BACKEND), encoding="utf-8")
    (package / "pyproject.toml").write_text(
        '[project]\nname = "slow"\nversion = "1"\n'
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n',
        encoding="utf-8",
    )
    cache = tmp_path / "cache"
    build = subprocess.Popen(
        [sys.executable, "-c", _ENSURE, str(cache), str(package)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not (package / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (package / "started").exists(), "the build never started"
    assert list((cache / "envs").glob(".tmp-*"))  # the half-built environment exists
    os.killpg(build.pid, signal.SIGINT)  # as Ctrl-C does: the whole foreground group
    build.wait(timeout=30)
    assert build.returncode != 0
    assert [p.name for p in (cache / "envs").iterdir() if not p.name.endswith(".lock")] == []


def _compiled(bin_dir: Path, module: str) -> list[Path]:
    site = next((bin_dir.parent / "lib").glob("python*/site-packages"))
    return list(site.glob(f"__pycache__/{module}.cpython-*.pyc"))


def test_built_environments_hold_compiled_bytecode(tmp_path, monkeypatch):
    # where bytecode is never written, steps would otherwise compile every import every time
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    bin_dir = ensure(from_requirements(["six==1.16.0"]), cache_dir=tmp_path / "cache")
    assert bin_dir is not None
    assert _compiled(bin_dir, "six")
    assert read_record(bin_dir.parent).bytecode


def test_an_environment_built_without_bytecode_gets_it_compiled_once(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    cache, spec = tmp_path / "cache", from_requirements(["six==1.16.0"])
    bin_dir = ensure(spec, cache_dir=cache)
    assert bin_dir is not None
    for folder in list(bin_dir.parent.rglob("__pycache__")):  # as mlops built them before
        shutil.rmtree(folder)
    record = bin_dir.parent / "mlops-env.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "bytecode": False}))
    assert not _compiled(bin_dir, "six")

    said: list[str] = []
    assert ensure(spec, cache_dir=cache, on_progress=said.append) == bin_dir
    assert _compiled(bin_dir, "six") and read_record(bin_dir.parent).bytecode
    assert ensure(spec, cache_dir=cache, on_progress=said.append) == bin_dir
    assert [m for m in said if "compiling" in m] == [
        f"compiling the bytecode of environment {spec.digest[:12]} (once)"
    ]
