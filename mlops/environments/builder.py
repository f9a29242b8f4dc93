"""Build an EnvSpec once with uv into the shared cache, under a lock, atomically.

A build goes into `envs/.tmp-<digest>-<pid>-<random>/` and is renamed to `envs/<digest>/`
only once it is complete and recorded, so an interrupted build (Ctrl-C, a killed process, a
failed install) never leaves an environment that a later run would use. uv builds the venv
`--relocatable`, so the rename keeps its scripts working.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.environments import cache
from mlops.environments.spec import EnvMode, EnvSpec
from mlops.errors import BackendError

if TYPE_CHECKING:
    from filelock import FileLock

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
#: uv's own output kept in an error message (its resolver explains a conflict in a few lines)
_UV_TAIL_LINES = 25


def ensure(
    spec: EnvSpec,
    *,
    cache_dir: Path | None = None,
    on_progress: Progress | None = None,
    used_by: str | list[str] | None = None,
    mode: EnvMode = "isolated",
) -> Path | None:
    """The `bin` folder of the environment `spec` describes, built first if the cache lacks
    it; None when steps run in the current environment (kind "current" or "image", or
    `mode="current"`). Put it first on a step's PATH.

    `used_by` (component files, as shown to users) is recorded for `mlops env list`;
    `on_progress` gets one-line messages: building, waiting for another build, a missing
    Python replaced by the current one. Raises BackendError when uv cannot build it.
    """
    say = on_progress or (lambda message: log.info("%s", message))
    if mode == "current" or not spec.isolated:
        if spec.notice:
            say(spec.notice)
        return None
    if spec.notice:
        say(spec.notice)
    root = cache.envs_dir(cache_dir)
    env = root / spec.digest
    if (record := cache.read_record(env)) is not None:  # the common case: built before
        _use(env, record, used_by, say)
        return env / "bin"
    uv = _uv()
    python, fallback = _interpreter(uv, spec.python_version)
    requested = None
    if fallback:
        say(
            f"warning: Python {spec.python_version} is not on this machine: building"
            f" {spec.source} with Python {fallback} instead"
        )
        requested = spec.python_version
        spec = replace(spec, python=fallback)  # its own cache key: 3.10 later builds anew
        env = root / spec.digest
        if (record := cache.read_record(env)) is not None:
            _use(env, record, used_by, say)
            return env / "bin"
    root.mkdir(parents=True, exist_ok=True)
    lock = _lock(
        env, say, f"waiting for another process building the environment {spec.digest[:12]}"
    )
    try:
        record = cache.read_record(env)
        if record is not None:  # another process built it while we waited
            _settle(record, used_by, say)
        else:
            if env.exists():  # a folder with no record is not an environment: set it aside
                cache.remove(env)
            _build(uv, spec, python, env, say, used_by, requested)
    finally:
        lock.release()
    return env / "bin"


def _use(
    env: Path, record: cache.EnvRecord, used_by: str | list[str] | None, say: Progress
) -> None:
    """Record the use of a built environment; compile its bytecode first if it has none."""
    if record.bytecode:
        _touch(env, used_by)
        return
    lock = _lock(
        env, say, f"waiting for another process using the environment {record.digest[:12]}"
    )
    try:
        found = cache.read_record(env)  # another process may have compiled it meanwhile
        if found is not None:
            _settle(found, used_by, say)
    finally:
        lock.release()


def _lock(env: Path, say: Progress, waiting: str) -> FileLock:
    """The environment's lock, held; `waiting` is said when another process holds it."""
    from filelock import FileLock, Timeout

    lock = FileLock(cache.lock_path(env))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        say(waiting)
        lock.acquire()
    return lock


def _settle(record: cache.EnvRecord, used_by: str | list[str] | None, say: Progress) -> None:
    """Under the env's lock: an environment built before mlops compiled bytecode (or by
    another build) gets it now, once; then the use is recorded."""
    if not record.bytecode:
        say(f"compiling the bytecode of environment {record.digest[:12]} (once)")
        record.bytecode = compile_bytecode(record.path)
    cache.touch(record, used_by)


def compile_bytecode(env: Path) -> bool:
    """Compile every module of the environment at `env` with its own Python (bytecode is per
    Python version), in parallel; True when that ran. Steps import from the cache, not
    compile: where PYTHONDONTWRITEBYTECODE is set they could never cache it themselves, and
    MLflow, pandas and scikit-learn then take 5 s to import instead of 2. A module that does
    not compile (a Python 2 test fixture, say) is left as it is, as uv leaves it."""
    python = env / "bin" / "python"
    try:
        subprocess.run(
            [str(python), "-I", "-m", "compileall", "-q", "-q", "-j", "0", str(env / "lib")],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except OSError as exc:
        log.warning("cannot compile the bytecode of %s: %s", env, exc)
        return False
    return True


def _touch(env: Path, used_by: str | list[str] | None) -> None:
    """Record the use under the env's lock; skip if a build or prune holds it for long."""
    from filelock import FileLock, Timeout

    try:
        with FileLock(cache.lock_path(env), timeout=10):
            record = cache.read_record(env)
            if record is not None:
                cache.touch(record, used_by)
    except (Timeout, OSError):
        return  # bookkeeping only: never fail a run for it


def _build(
    uv: str,
    spec: EnvSpec,
    python: str,
    env: Path,
    say: Progress,
    used_by: str | list[str] | None,
    requested: str | None,
) -> None:
    for stale in env.parent.glob(f".tmp-{spec.digest}-*"):  # interrupted earlier: we hold the lock
        shutil.rmtree(stale, ignore_errors=True)
    temporary = env.with_name(f".tmp-{spec.digest}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    started = time.monotonic()
    say(
        f"building environment {spec.digest[:12]} for {spec.source}:"
        f" Python {spec.python_version}, {len(spec.requirements)} requirement(s)"
    )
    try:
        venv = [uv, "venv", "--quiet", "--relocatable", "--python", python]
        _run([*venv, *(["--seed"] if spec.seed else []), str(temporary)], spec)
        if spec.requirements:
            requirements = temporary / "mlops-requirements.txt"
            requirements.write_text("\n".join(spec.requirements) + "\n", encoding="utf-8")
            target = temporary / "bin" / "python"
            install = [uv, "pip", "install", "--quiet", "--compile-bytecode"]
            _run([*install, "--python", str(target), "-r", str(requirements)], spec)
        now = time.time()
        cache.write_record(
            cache.EnvRecord(
                path=temporary,
                digest=spec.digest,
                kind=spec.kind,
                source=spec.source,
                python=spec.python_version,
                python_requested=requested,
                requirements=list(spec.requirements),
                created=now,
                last_used=now,
                size=cache.tree_size(temporary),
                used_by=[used_by] if isinstance(used_by, str) else list(used_by or []),
                bytecode=True,
            )
        )
        os.rename(temporary, env)
    except BaseException:  # Ctrl-C included: no half-built environment stays behind
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    say(f"built environment {spec.digest[:12]} in {time.monotonic() - started:.1f}s")


def _run(command: list[str], spec: EnvSpec) -> None:
    done = subprocess.run(
        command, capture_output=True, text=True, env=_uv_environment(), stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip().splitlines()[-_UV_TAIL_LINES:]
        raise BackendError(
            f"cannot build the environment of {spec.source}:\n" + "\n".join(output),
            hint="fix the requirements the environment declares (uv's message above), or run"
            " every step in the CLI's own environment: `mlops run --env-mode current`",
        )


def _uv_environment() -> dict[str, str]:
    """uv as the user configured it (indexes, cache), but never downloading a Python: those
    come from GitHub, which a machine limited to a package index cannot reach."""
    environment = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    environment["UV_PYTHON_DOWNLOADS"] = "never"
    environment["UV_NO_PROGRESS"] = "1"
    return environment


def _uv() -> str:
    """The uv executable: the one the `uv` package installed beside us, else one on PATH."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise BackendError(
        "uv is not installed: it builds the environments components declare",
        hint="`pip install uv`, or run every step in the CLI's own environment:"
        " `mlops run --env-mode current`",
    )


def _interpreter(uv: str, version: str) -> tuple[str, str | None]:
    """A Python `version` interpreter (what uv finds, else pyenv's) and None; else the current
    interpreter and its version, for the caller to warn about."""
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version == current:
        return sys.executable, None
    done = subprocess.run(
        [uv, "python", "find", "--no-project", version],
        capture_output=True,
        text=True,
        env=_uv_environment(),
        stdin=subprocess.DEVNULL,
    )
    if done.returncode == 0 and done.stdout.strip():
        return done.stdout.strip(), None
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = pyenv.glob(f"{version}.*/bin/python{version}")
    for candidate in sorted(found, key=_patch_level, reverse=True):
        if os.access(candidate, os.X_OK):
            return str(candidate), None
    return sys.executable, current


def _patch_level(interpreter: Path) -> int:
    """3.10.13 sorts after 3.10.9 (pyenv's folder names are versions)."""
    patch = interpreter.parents[1].name.split(".")[-1]
    return int(patch) if patch.isdigit() else -1
