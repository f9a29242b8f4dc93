"""The champion: the newest version the gate promoted that was not forced in.

Azure ML's MLflow registry has no aliases, so this rule (the one `mlops` applies to both
backends) is what makes a version champion; the local `champion` alias only follows it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

CHAMPION_ALIAS = "champion"
PROMOTED = "promoted"
LOCK_VARIABLE = "MLOPS_REGISTRY_LOCK"  # set by `mlops run` locally: one writer at a time


Versions = Iterable[tuple[str, Mapping[str, str]]]


def is_candidate(tags: Mapping[str, str]) -> bool:
    """A version the gate promoted and that was not forced in: only such a one may be champion."""
    return tags.get("gate_decision") == PROMOTED and tags.get("forced", "false") != "true"


def choose(versions: Versions) -> str | None:
    """The champion's version number among (version, tags) pairs, or None. Plain data, so the
    evaluate step (local or on Azure ML), the register step and the tests apply this one rule
    to whatever listed the versions; `mlops.gate.champion` is the same rule for the CLI."""
    candidates = [str(version) for version, tags in versions if is_candidate(tags)]
    return max(candidates, key=int, default=None)


def _search(client: Any, name: str) -> list[Any]:
    """Every version of `name` through MLflow's search, page by page: Azure ML's MLflow
    registry answers it (it has no aliases), and a champion past the first page still counts."""
    quoted = name.replace("'", "''")
    found: list[Any] = []
    token = None
    while True:
        page = client.search_model_versions(f"name='{quoted}'", page_token=token)
        found.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return found


def versions(client: Any, name: str) -> list[tuple[str, dict[str, str]]]:
    """(version, tags) of every version of `name`: what `choose` and the gate take."""
    return [(str(v.version), dict(v.tags or {})) for v in _search(client, name)]


def find(client: Any, name: str) -> Any | None:
    """The champion version of `name` (an MLflow ModelVersion), or None."""
    found = _search(client, name)
    chosen = choose((str(v.version), dict(v.tags or {})) for v in found)
    return next((v for v in found if str(v.version) == chosen), None)


@contextlib.contextmanager
def registry_lock() -> Iterator[None]:
    """Hold the local registry's lock while deciding and registering, so two runs at once
    compare against the champion as it is when they register, not as it was when they began.
    Azure ML runs have no shared file: there the variable is unset and nothing is locked.
    (`flock`, from the standard library: the step's environment needs no extra package; mlops
    takes the same kind of lock, through `filelock`, on the same file.)"""
    path = os.environ.get(LOCK_VARIABLE)
    if not path:
        yield
        return
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block is done: a version is never left registered
    without the alias its tags call for. The signal is raised again on the way out. (Handlers,
    not a signal mask: a mask is per thread, and MLflow's threads would take the signal.)"""
    pending: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in held}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in pending:
            signal.raise_signal(number)
