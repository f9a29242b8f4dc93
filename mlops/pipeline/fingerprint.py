"""Content fingerprints for step reuse: the same definition, code, values and data reuse."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

ALWAYS_IGNORED = (".git/", "__pycache__/", "*.pyc", ".ipynb_checkpoints/", ".mlops/", ".venv/")


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
    """sha256 of a code folder as Azure ML snapshots it: `.amlignore` (else `.gitignore`) apply."""
    import pathspec

    patterns = list(ALWAYS_IGNORED)
    for name in (".amlignore", ".gitignore"):
        ignore_file = folder / name
        if ignore_file.is_file():
            patterns += ignore_file.read_text(encoding="utf-8").splitlines()
            break
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    kept: list[str] = []
    for top, dirs, files in os.walk(folder):
        base = Path(top).relative_to(folder).as_posix()
        prefix = "" if base == "." else f"{base}/"
        dirs[:] = sorted(d for d in dirs if not spec.match_file(f"{prefix}{d}/"))
        kept += [f"{prefix}{f}" for f in files if not spec.match_file(f"{prefix}{f}")]
    digest = hashlib.sha256()
    for relative in sorted(kept):
        digest.update(relative.encode() + b"\0")
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
