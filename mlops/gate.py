"""The gate's rules that mlops owns, one copy for both backends: who is champion, how the
guardrails reach the steps, and which pipeline inputs `--set` may not change."""

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
    "guardrails": "model.guardrails",
}
# The champion's version as mlops found it in the registry when the run started: an input, so
# the evaluate and register steps are reused exactly while neither the registry's champion
# nor the gate's settings changed
CHAMPION_INPUT = "champion_version"
NO_CHAMPION = "none"
NO_GUARDRAILS = "none"
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
    if name == CHAMPION_INPUT:
        return (
            "the model registry (the champion when the run starts)",
            "the champion moves only through the gate; see `mlops models show`",
        )
    if name == FORCE_INPUT:
        return ("the --force-register option", "use --force-register (platform engineers)")
    return None


def guardrails_text(guardrails: Mapping[str, object]) -> str:
    """The `guardrails` pipeline input: `recall:min:0.95,precision:max:1.0`, sorted; "none"
    for no guardrails. One word without shell metacharacters, because Azure ML pastes input
    values into the command unquoted. `diagnosis.evaluate.parse_guardrails` reads it back."""
    parts = []
    for metric in sorted(guardrails):
        bounds = guardrails[metric]
        for kind in ("min", "max"):
            value = getattr(bounds, kind, None)
            if value is None and isinstance(bounds, Mapping):
                value = bounds.get(kind)
            if value is not None:
                parts.append(f"{metric}:{kind}:{float(value)!r}")
    return ",".join(parts) or NO_GUARDRAILS


def champion_version(versions: Iterable[Tagged]) -> str:
    """The `champion_version` pipeline input: the champion's version, or "none"."""
    found = champion(versions)
    return NO_CHAMPION if found is None else str(found.version)
