"""What-if noise, as data: property differences ARM reports that a deployment would not make.

Microsoft's what-if page calls these differences noise: a property the template does not set,
which Azure fills in itself (a default or a read-only value), comes back from what-if as
deleted, and redeploying the same template reports a Modify forever. A rule names the
resource type, the property path (and everything under it) and the property change kinds it
covers, with the Microsoft source that reports it.

Rules cover only `delete` (and what-if's own `no-effect`, always noise): a property delete
means the template does not set that property, so a rule can never hide a value that
mlops.yaml sets. A Modify left with nothing but noise is planned as `noise`: shown, not applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from mlops.plan.changes import PropertyChange, ResourceChange

#: the what-if page's own account of noise (properties reported as deleted that Azure sets)
WHAT_IF_NOISE = "https://learn.microsoft.com/azure/azure-resource-manager/templates/deploy-what-if"


@dataclass(frozen=True)
class NoiseRule:
    resource_type: str  # compared case-insensitively
    path: str  # Azure's property path; `[*]` is any array index; covers what is under it
    kinds: frozenset[str]  # property change kinds covered: only "delete" today
    source: str  # where Microsoft reports it
    why: str

    def covers(self, resource_type: str, change: PropertyChange) -> bool:
        return (
            change.kind in self.kinds
            and resource_type.lower() == self.resource_type.lower()
            and _pattern(self.path).fullmatch(change.path) is not None
        )


_DELETE = frozenset({"delete"})
_ISSUES = "https://github.com/Azure/arm-template-whatif/issues"

RULES: tuple[NoiseRule, ...] = (
    NoiseRule(
        "Microsoft.OperationalInsights/workspaces",
        "properties.createdDate",
        _DELETE,
        f"{_ISSUES}/101",
        "read-only timestamp the service sets; reported as deleted on every redeploy",
    ),
    NoiseRule(
        "Microsoft.OperationalInsights/workspaces",
        "properties.features",
        _DELETE,
        f"{_ISSUES}/101",
        "feature flags the service fills in with defaults when the template sets none"
        " (also reported in issue 289)",
    ),
    NoiseRule(
        "Microsoft.Network/virtualNetworks",
        "properties.privateEndpointVNetPolicies",
        _DELETE,
        f"{_ISSUES}/394",
        "default the provider fills in (api 2024-05-01, which mlops renders)",
    ),
    NoiseRule(
        "Microsoft.Network/virtualNetworks",
        "properties.cloudServices",
        _DELETE,
        f"{_ISSUES}/360",
        "read-only list the provider returns; not settable in a template",
    ),
)


def match(resource_type: str, change: PropertyChange) -> NoiseRule | None:
    """The rule that makes this property difference noise, or None."""
    return next((r for r in RULES if r.covers(resource_type, change)), None)


def classify(change: ResourceChange) -> ResourceChange:
    """A Modify whose every property difference is no-effect or known noise becomes `noise`;
    each noisy property difference records the source that makes it noise."""
    if change.action != "modify" or not change.properties:
        return change
    marked = []
    for p in change.properties:
        if p.kind == "no-effect":
            marked.append(_with_noise(p, WHAT_IF_NOISE))
            continue
        rule = match(change.type, p)
        marked.append(_with_noise(p, rule.source) if rule else p)
    only_noise = all(p.noise for p in marked)
    return ResourceChange(
        action="noise" if only_noise else "modify",
        type=change.type,
        name=change.name,
        resource_id=change.resource_id,
        properties=tuple(marked),
        prunable=change.prunable,
        reason=change.reason,
    )


def _with_noise(p: PropertyChange, source: str) -> PropertyChange:
    return PropertyChange(p.path, p.kind, p.before, p.after, noise=source)


@cache
def _pattern(path: str) -> re.Pattern[str]:
    body = re.escape(path).replace(r"\[\*\]", r"\[\d+\]")
    return re.compile(body + r"(?:[.\[].*)?")


__all__ = ["RULES", "WHAT_IF_NOISE", "NoiseRule", "classify", "match"]
