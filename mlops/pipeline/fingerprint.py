"""Content fingerprints for step reuse: the same definition, code, values and data reuse."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from mlops.ignore import ALWAYS_IGNORED, Snapshot

__all__ = ["ALWAYS_IGNORED", "code_hash", "content_hash", "step_key"]


def content_hash(path: Path) -> str:
    """sha256 over a file, or over a folder's relative paths and file contents."""
    digest = hashlib.sha256()
    if path.is_file():
        _file_into(digest, path)
        return digest.hexdigest()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        _file_into(digest, file)
    return digest.hexdigest()


def code_hash(folder: Path) -> str:
    """sha256 of a code folder as Azure ML snapshots it (see `mlops.ignore`)."""
    digest = hashlib.sha256()
    for relative in Snapshot.of(folder).files():
        digest.update(os.fsencode(relative) + b"\0")  # names need not be UTF-8
        _file_into(digest, folder / relative)
    return digest.hexdigest()


def step_key(parts: dict[str, Any]) -> str:
    """The reuse key of a step from its already-hashed parts."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _file_into(digest: Any, file: Path) -> None:
    with file.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    digest.update(b"\0")
