"""Azure RBAC permission blocks and the matching rules Azure applies to them.

An operation string such as `Microsoft.MachineLearningServices/workspaces/computes/write`
is matched case-insensitively against patterns in which `*` stands for any run of
characters, `/` included. A role grants an operation when one of its `actions` matches and
none of the same block's `notActions` does: `notActions` subtract from that role only, they
are not a deny. Data-plane operations (blob reads, secret gets) are granted only by
`dataActions`, never by `actions` (an Owner's `*` does not read a blob); which operations
are data actions is Microsoft's published list (`operations`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(p) for p in pattern.split("*"))
    return re.compile(".*".join(parts), re.IGNORECASE)


def matches(pattern: str, operation: str) -> bool:
    """Whether an action pattern (with `*` wildcards) covers an operation."""
    return _pattern(pattern).fullmatch(operation) is not None


@dataclass(frozen=True)
class Permission:
    """One permission block of a role definition, in the REST API's field names."""

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()

    def decide(self, operation: str, *, data: bool) -> Decision:
        """Granted or not, and the pattern that decided it."""
        allow, exclude = (
            (self.data_actions, self.not_data_actions) if data else (self.actions, self.not_actions)
        )
        granted_by = next((p for p in allow if matches(p, operation)), None)
        if granted_by is None:
            return Decision(False, None, None)
        excluded_by = next((p for p in exclude if matches(p, operation)), None)
        return Decision(excluded_by is None, granted_by, excluded_by)

    def to_rest(self) -> dict[str, list[str]]:
        return {
            "actions": list(self.actions),
            "notActions": list(self.not_actions),
            "dataActions": list(self.data_actions),
            "notDataActions": list(self.not_data_actions),
        }


@dataclass(frozen=True)
class Decision:
    allowed: bool
    granted_by: str | None  # the matching actions / dataActions pattern
    excluded_by: str | None  # the notActions / notDataActions pattern that took it back
