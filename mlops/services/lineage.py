"""Where a run comes from: the git commit and the Azure DevOps build, for lineage tags."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

LOCAL = "local"
UNKNOWN = "unknown"


def build_lineage(root: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """git_commit, git_branch, git_dirty, build_id and build_uri of the current checkout.

    Azure DevOps' predefined variables win where present (its agents check out a detached
    HEAD); outside a pipeline the build is `local`.
    """
    env = {k: _text(v) for k, v in (os.environ if env is None else env).items()}
    branch = env.get("BUILD_SOURCEBRANCH", "").removeprefix("refs/heads/")
    build_id = env.get("BUILD_BUILDID", "")
    collection, project = env.get("SYSTEM_COLLECTIONURI", ""), env.get("SYSTEM_TEAMPROJECT", "")
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": env.get("BUILD_SOURCEVERSION") or _git(root, "rev-parse", "HEAD") or UNKNOWN,
        "git_branch": branch or _git(root, "rev-parse", "--abbrev-ref", "HEAD") or UNKNOWN,
        "git_dirty": UNKNOWN if status is None else str(bool(status)).lower(),
        "build_id": build_id or LOCAL,
        "build_uri": (
            f"{collection.rstrip('/')}/{project}/_build/results?buildId={build_id}"
            if build_id and collection and project
            else LOCAL
        ),
    }


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "replace").strip()


def _text(value: str) -> str:
    """Lineage is stored as text: bytes that are not UTF-8 (a branch name, a variable) become
    U+FFFD instead of failing the run when MLflow writes the tag."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
