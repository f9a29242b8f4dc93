"""The shared cache of built environments: where it is, what it holds, and pruning it.

Layout: `<cache>/envs/<digest>/` is one complete environment (it holds `mlops-env.json`);
`<cache>/envs/<digest>.lock` is taken while it is built, renamed away or its record updated;
`<cache>/envs/.tmp-*` and `.trash-*` are builds and deletions in progress (or interrupted).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECORD = "mlops-env.json"
#: how many component files a record remembers (the latest users first)
MAX_USED_BY = 20


def cache_root(cache_dir: Path | None = None) -> Path:
    """`cache_dir`, else $MLOPS_CACHE_DIR, else $XDG_CACHE_HOME/mlops, else ~/.cache/mlops:
    one cache for every project of the user, as environments do not depend on the project."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("MLOPS_CACHE_DIR"):
        return Path(os.environ["MLOPS_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mlops"


def envs_dir(cache_dir: Path | None = None) -> Path:
    return cache_root(cache_dir) / "envs"


@dataclass
class EnvRecord:
    """What `mlops-env.json` says about one built environment."""

    path: Path
    digest: str
    kind: str
    source: str
    python: str
    requirements: list[str]
    created: float
    last_used: float
    size: int
    used_by: list[str] = field(default_factory=list)
    python_requested: str | None = None  # set when that Python was missing and another used
    #: its packages' bytecode is compiled (`__pycache__`): steps import them without compiling,
    #: which they cannot cache themselves where PYTHONDONTWRITEBYTECODE is set
    bytecode: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "kind": self.kind,
            "source": self.source,
            "python": self.python,
            "python_requested": self.python_requested,
            "bytecode": self.bytecode,
            "requirements": self.requirements,
            "created": self.created,
            "last_used": self.last_used,
            "size": self.size,
            "used_by": self.used_by,
            "path": str(self.path),
        }


def read_record(env: Path) -> EnvRecord | None:
    """The record of the environment at `env`; None when it is absent or unreadable (an env
    without a record is not complete and is never used)."""
    try:
        data = json.loads((env / RECORD).read_text(encoding="utf-8"))
        return EnvRecord(
            path=env,
            digest=str(data["digest"]),
            kind=str(data["kind"]),
            source=str(data["source"]),
            python=str(data["python"]),
            requirements=[str(r) for r in data["requirements"]],
            created=float(data["created"]),
            last_used=float(data["last_used"]),
            size=int(data["size"]),
            used_by=[str(u) for u in data.get("used_by") or []],
            python_requested=data.get("python_requested"),
            bytecode=data.get("bytecode") is True,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_record(record: EnvRecord) -> None:
    """Replace the record atomically: a reader sees the old one or the new one, never half."""
    data = record.to_dict()
    del data["path"]
    temporary = record.path / f".{RECORD}.{uuid.uuid4().hex}"
    temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, record.path / RECORD)


def touch(record: EnvRecord, used_by: str | list[str] | None) -> EnvRecord:
    """`record` marked as used now, by `used_by` first (call under the environment's lock)."""
    record.last_used = time.time()
    users = [used_by] if isinstance(used_by, str) else list(used_by or [])
    if users:
        rest = [u for u in record.used_by if u not in users]
        record.used_by = [*users, *rest][:MAX_USED_BY]
    write_record(record)
    return record


def list_envs(cache_dir: Path | None = None) -> list[EnvRecord]:
    """Every complete environment in the cache, the most recently used first."""
    records = [r for r in map(read_record, _env_dirs(cache_dir)) if r is not None]
    return sorted(records, key=lambda r: r.last_used, reverse=True)


def lock_path(env: Path) -> Path:
    return env.with_name(env.name + ".lock")


@dataclass
class Pruned:
    """What `prune` removed: complete environments, and leftovers of interrupted builds."""

    removed: list[EnvRecord] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)
    freed: int = 0
    busy: list[str] = field(default_factory=list)  # digests being built: left alone


def prune(
    cache_dir: Path | None = None, *, older_than_days: float | None = None, everything: bool = False
) -> Pruned:
    """Remove environments unused for `older_than_days` (or all of them with `everything`),
    and always the leftovers of interrupted builds. An environment being built or recorded
    by another process is left alone; each removal is a rename first, so no run ever finds a
    half-deleted environment."""
    from filelock import FileLock, Timeout

    result = Pruned()
    root = envs_dir(cache_dir)
    if not root.is_dir():
        return result
    cutoff = None if older_than_days is None else time.time() - older_than_days * 86400
    for env in _env_dirs(cache_dir):
        record = read_record(env)
        if record is not None and not everything and (cutoff is None or record.last_used >= cutoff):
            continue
        try:
            with FileLock(lock_path(env), timeout=0):
                size = record.size if record else tree_size(env)
                remove(env)
        except Timeout:
            result.busy.append(env.name)
            continue
        result.freed += size
        if record is not None:
            result.removed.append(record)
        else:
            result.leftovers.append(env)
    for leftover in sorted(root.glob(".t*-*")):
        if not _leftover_in_use(leftover):
            size = tree_size(leftover)
            shutil.rmtree(leftover, ignore_errors=True)
            result.freed += size
            result.leftovers.append(leftover)
    return result


def tree_size(path: Path) -> int:
    """Bytes under `path`, each file once (uv hard-links files from its own cache)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                stat = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def _env_dirs(cache_dir: Path | None) -> Iterator[Path]:
    root = envs_dir(cache_dir)
    if not root.is_dir():
        return
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and not entry.name.startswith(".") and not entry.is_symlink():
            yield entry


def remove(env: Path) -> None:
    """Rename `env` away, then delete it: nobody ever sees it half-deleted (hold its lock)."""
    trash = env.with_name(f".trash-{env.name}-{uuid.uuid4().hex[:8]}")
    os.rename(env, trash)
    shutil.rmtree(trash, ignore_errors=True)


def _leftover_in_use(path: Path) -> bool:
    """A `.tmp-<digest>-<pid>-...` folder whose builder still holds the digest's lock."""
    from filelock import FileLock, Timeout

    if not path.name.startswith(".tmp-"):
        return False  # a .trash- folder: its removal was interrupted
    digest = path.name.split("-")[1]
    try:
        with FileLock(path.parent / f"{digest}.lock", timeout=0):
            return False
    except Timeout:
        return True
