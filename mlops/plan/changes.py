"""The typed changes of a plan, their JSON form, and what makes two plans the same.

A saved plan records a digest of the rendered templates it was made from: `provision --plan`
refuses a plan made from another configuration before any call, and refuses one whose
changes a fresh what-if no longer reproduces (someone changed Azure in between).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Action = Literal[
    "create",
    "modify",
    "delete",
    "no-change",
    "ignore",
    "deploy",
    "unsupported",
    "unmanaged",
    # a Modify whose every property difference is NoEffect or known what-if noise
    "noise",
    # what-if's `potentialChanges`: may change, Azure cannot say before deploying
    "may-change",
    # a resource the deployment stack manages that the template no longer holds: the
    # stack releases it (actionOnUnmanage detach); with --prune it is planned as "delete"
    "detach",
]
#: actions that mean Azure will be written to
WRITES = frozenset({"create", "modify", "delete", "deploy", "detach"})
#: actions whose effect Azure cannot predict: never applied unreviewed
UNKNOWN = frozenset({"unsupported", "may-change"})
FORMAT = 1
#: the stack of role definitions and assignments, applied after the infrastructure stacks
ROLES = "roles"


@dataclass(frozen=True)
class PropertyChange:
    path: str
    kind: str  # create, delete, modify, array, no-effect
    before: Any = None
    after: Any = None
    #: the source of the noise rule (mlops.plan.noise) that makes this difference what-if
    #: noise, not a change a deployment would make; None for a real difference
    noise: str | None = None


@dataclass(frozen=True)
class ResourceChange:
    action: Action
    type: str
    name: str
    resource_id: str | None = None
    properties: tuple[PropertyChange, ...] = ()
    # an unmanaged role assignment that `provision --prune` removes (users and groups only)
    prunable: bool = False
    #: why Azure cannot predict it (what-if's `unsupportedReason`), for "unsupported"
    reason: str | None = None

    @property
    def key(self) -> tuple:
        return (self.action, self.type.lower(), self.name.lower(), self.properties)


class WhatIfChanges(tuple):
    """The changes of one what-if, carrying what-if's `diagnostics` along: a StackPlan made
    from them keeps the diagnostics without its caller handling them."""

    diagnostics: tuple[str, ...] = ()

    def __new__(cls, changes: Any = (), diagnostics: Any = ()) -> WhatIfChanges:
        made = super().__new__(cls, changes)
        made.diagnostics = tuple(diagnostics)
        return made


#: how the summary line counts each action (`Plan.summary`)
SUMMARY = {
    "create": "add",
    "modify": "change",
    "deploy": "change",
    "delete": "destroy",
    "detach": "detach",
    "unsupported": "may_change",
    "may-change": "may_change",
    "no-change": "unchanged",
    "noise": "unchanged",
    "ignore": "unchanged",
}


@dataclass(frozen=True)
class StackPlan:
    """The changes of one deployment stack (the shared stack or one environment)."""

    stack: str
    resource_group: str
    subscription_id: str | None
    resource_group_exists: bool | None  # None: not known (offline)
    changes: tuple[ResourceChange, ...] = ()
    #: what-if's `diagnostics` (level and message), printed with the plan
    diagnostics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.changes, WhatIfChanges):
            if not self.diagnostics:
                object.__setattr__(self, "diagnostics", self.changes.diagnostics)
            object.__setattr__(self, "changes", tuple(self.changes))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.changes:
            out[c.action] = out.get(c.action, 0) + 1
        return out

    @property
    def has_writes(self) -> bool:
        """Whether applying the stack writes to Azure: a change, or one Azure cannot predict
        (a deployment redeploys it); noise and ignored resources are no write."""
        return self.resource_group_exists is False or any(
            c.action in WRITES or c.action in UNKNOWN for c in self.changes
        )

    @property
    def has_unknown(self) -> bool:
        return any(c.action in UNKNOWN for c in self.changes)


@dataclass(frozen=True)
class Plan:
    config_digest: str
    stacks: tuple[StackPlan, ...]
    offline: bool
    reason: str | None = None  # why it is offline
    format: int = FORMAT
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return any(s.has_writes for s in self.stacks)

    @property
    def has_unknown(self) -> bool:
        """Changes Azure cannot predict: `--detailed-exitcode` exits 3, and an unattended
        provision needs a reviewed, saved plan."""
        return any(s.has_unknown for s in self.stacks)

    def stack(self, name: str) -> StackPlan | None:
        return next((s for s in self.stacks if s.stack == name), None)

    def summary(self) -> dict[str, Any]:
        """The counts of the summary line, as `terraform plan` ends: create is "add", modify
        and deploy "change", delete "destroy", unsupported and may-change "may change",
        no-change, noise and ignore "unchanged". Unmanaged role assignments are listed
        apart (only `--prune` removes them)."""
        counts = dict.fromkeys(("add", "change", "destroy", "detach", "may_change", "unchanged"), 0)
        for s in self.stacks:
            for c in s.changes:
                if c.action in SUMMARY:
                    counts[SUMMARY[c.action]] += 1
        return {**counts, "has_unknown": self.has_unknown}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        if data.get("format") != FORMAT:
            raise ValueError(f"unsupported plan format {data.get('format')!r}")
        stacks = tuple(
            StackPlan(
                stack=s["stack"],
                resource_group=s["resource_group"],
                subscription_id=s.get("subscription_id"),
                resource_group_exists=s.get("resource_group_exists"),
                changes=tuple(
                    ResourceChange(
                        action=c["action"],
                        type=c["type"],
                        name=c["name"],
                        resource_id=c.get("resource_id"),
                        properties=tuple(PropertyChange(**p) for p in c.get("properties", [])),
                        prunable=bool(c.get("prunable", False)),
                        reason=c.get("reason"),
                    )
                    for c in s.get("changes", [])
                ),
                diagnostics=tuple(s.get("diagnostics", ())),
            )
            for s in data["stacks"]
        )
        return cls(
            config_digest=data["config_digest"],
            stacks=stacks,
            offline=bool(data["offline"]),
            reason=data.get("reason"),
            meta=dict(data.get("meta") or {}),
        )


def digest(texts: list[tuple[str, str]]) -> str:
    """sha256 over (path, text) pairs: identifies the rendered configuration a plan came from."""
    h = hashlib.sha256()
    for path, text in sorted(texts):
        h.update(path.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()


def same_changes(saved: StackPlan, fresh: StackPlan) -> bool:
    """Whether a fresh what-if reproduces the saved one (order and ids aside). What-if noise
    is left out: it is never applied, and values Azure fills in (timestamps) may move."""
    return sorted(_key(c) for c in saved.changes if c.action != "noise") == sorted(
        _key(c) for c in fresh.changes if c.action != "noise"
    )


def _key(change: ResourceChange) -> str:
    return json.dumps(
        [
            change.action,
            change.type.lower(),
            change.name.lower(),
            [asdict(p) for p in change.properties if p.noise is None],
            change.prunable,
        ],
        sort_keys=True,
        default=str,
    )
