"""Which files of a code folder Azure ML snapshots: `.amlignore`, else `.gitignore`, at its root.

The one rule for every copy of user code: the local runner's code hash and `mlops package`.
Azure ML (azure-ai-ml `get_ignore_file`) reads only the ignore file at the root of the code
folder, `.amlignore` first; we also always leave out tool caches and local state.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

#: never part of a snapshot: version control, caches, the embedded default's state, venvs
ALWAYS_IGNORED = (".git/", "__pycache__/", "*.pyc", ".ipynb_checkpoints/", ".mlops/", ".venv/")
IGNORE_FILES = (".amlignore", ".gitignore")


@dataclass(frozen=True)
class Snapshot:
    """The ignore rules of one code folder; `files()` lists what Azure ML would upload."""

    folder: Path
    patterns: tuple[str, ...]
    source: str | None  # the ignore file the patterns came from, if any

    @classmethod
    def of(cls, folder: Path) -> Snapshot:
        for name in IGNORE_FILES:
            ignore_file = folder / name
            if ignore_file.is_file():
                # git reads ignore files as bytes; surrogateescape keeps odd bytes matching
                # the equally escaped names os.walk returns, instead of failing on them
                lines = ignore_file.read_text("utf-8", "surrogateescape").splitlines()
                return cls(folder, tuple(lines), name)
        return cls(folder, (), None)

    def excludes(self, relative: str) -> bool:
        """Whether `relative` (POSIX, relative to the folder; folders end in '/') is left out."""
        return bool(self._spec.match_file(relative))

    def files(self, skip: tuple[Path, ...] = ()) -> list[str]:
        """Relative POSIX paths of the files kept, sorted; folders in `skip` are never entered.

        Symlinked folders are not followed, as os.walk does by default.
        """
        skipped = {p.resolve() for p in skip}
        kept: list[str] = []
        for top, dirs, files in os.walk(self.folder):
            base = Path(top).relative_to(self.folder).as_posix()
            prefix = "" if base == "." else f"{base}/"
            dirs[:] = sorted(
                d
                for d in dirs
                if not self.excludes(f"{prefix}{d}/")
                and (not skipped or (Path(top) / d).resolve() not in skipped)
            )
            kept += [f"{prefix}{f}" for f in files if not self.excludes(f"{prefix}{f}")]
        return sorted(kept)

    def dockerignore(self, under: str) -> list[str]:
        """The same rules as .dockerignore lines for a build context holding the folder at
        `under`: gitignore patterns without a slash match at any depth, so they get `**/`.

        Docker has no folder-only patterns, so `build/` also leaves out files named `build`.
        """
        lines = []
        for raw in (*ALWAYS_IGNORED, *self.patterns):
            pattern = raw.rstrip()
            if not pattern or pattern.startswith("#"):
                continue
            negate = pattern.startswith("!")
            body = pattern[1:] if negate else pattern
            body = body[1:] if body.startswith(("\\#", "\\!")) else body
            body = body.rstrip("/")
            if not body:
                continue
            anchored = "/" in body
            target = f"{under}/{body.lstrip('/')}" if anchored else f"{under}/**/{body}"
            lines.append(("!" if negate else "") + target)
        return lines

    @cached_property
    def _spec(self) -> Any:
        import pathspec

        return pathspec.GitIgnoreSpec.from_lines([*ALWAYS_IGNORED, *self.patterns])
