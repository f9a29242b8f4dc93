"""The gate's rules that mlops owns, one copy for both backends: who is champion, and which
pipeline inputs `--set` may not change."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, TypeVar

PROMOTED = "promoted"
CHAMPION = "champion"

# Pipeline inputs mlops fills from mlops.yaml: `--set` would move the bar the gate applies
GATE_INPUTS: Mapping[str, str] = {
    "model_name": "model.name",
    "primary_metric": "model.primary_metric",
    "direction": "model.direction",
    "threshold": "model.threshold",
    "min_improvement": "model.min_improvement",
}
# Pipeline inputs mlops fills from the checkout and the build: what a version's tags must prove
LINEAGE_INPUTS = (
    "git_commit",
    "git_branch",
    "git_dirty",
    "build_id",
    "build_uri",
    "pipeline_run_id",
)
FORCE_INPUT = "force_register"


class Tagged(Protocol):
    version: str
    tags: dict[str, str]


def is_champion_candidate(tags: Mapping[str, str]) -> bool:
    """A version the gate promoted and that was not forced in: only such a one may be champion."""
    return tags.get("gate_decision") == PROMOTED and tags.get("forced", "false") != "true"


V = TypeVar("V", bound=Tagged)


def champion(versions: Iterable[V]) -> V | None:
    """The champion: the newest version the gate promoted, not forced. Azure ML's registry has
    no aliases, so this is the rule there; the local registry's `champion` alias follows it."""
    candidates = [v for v in versions if is_champion_candidate(v.tags)]
    return max(candidates, key=lambda v: int(v.version), default=None)


def owned_override(name: str) -> tuple[str, str] | None:
    """(what owns it, how to change it) when `--set inputs.NAME` would bypass the gate."""
    if name in GATE_INPUTS:
        key = GATE_INPUTS[name]
        return (
            f"mlops.yaml ({key})",
            f"change {key} in mlops.yaml (reviewed like code), then run again",
        )
    if name in LINEAGE_INPUTS:
        return (
            "the checkout and the build (lineage)",
            "lineage is recorded as it is and cannot be set; commit or build to change it",
        )
    if name == FORCE_INPUT:
        return ("the --force-register option", "use --force-register (platform engineers)")
    return None
