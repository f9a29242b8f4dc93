"""`mlops render`: write what mlops.yaml derives, or report which committed files are stale."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlops.config.loader import LoadedConfig
from mlops.render.files import Drift, compare, render


@dataclass(frozen=True)
class RenderResult:
    written: list[str]
    unchanged: list[str]
    removed: list[str]


def check(loaded: LoadedConfig) -> Drift:
    return compare(loaded.root, render(loaded.config))


def write(loaded: LoadedConfig) -> RenderResult:
    """Write every rendered file; files a previous render produced and this one does not go.

    Each file is replaced atomically, so an interrupted render never leaves half a template.
    """
    files = render(loaded.config)
    drift = compare(loaded.root, files)
    written = set(drift.changed) | set(drift.missing)
    for f in files:
        if f.path in written:
            _write_atomic(loaded.root / f.path, f.text)
    for path in drift.extra:
        (loaded.root / path).unlink()
        folder = (loaded.root / path).parent
        if not any(folder.iterdir()):
            folder.rmdir()
    return RenderResult(
        written=sorted(written),
        unchanged=sorted(f.path for f in files if f.path not in written),
        removed=drift.extra,
    )


def _write_atomic(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
