"""Blue/green rollout of an online endpoint, as a plan of traffic states.

The new deployment takes the colour the endpoint is not serving with, starts at 0% and is
smoke-tested directly; traffic then moves by `deployment.traffic_steps`, and the old
deployment goes once the new one holds 100%. A first deployment has nothing to shift from:
it takes 100% once its smoke test passes. Pure: the backend executes the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

COLOURS = ("blue", "green")


@dataclass(frozen=True)
class Rollout:
    new: str
    old: str | None  # the deployment serving now, None for a first deployment
    steps: tuple[dict[str, int], ...]  # traffic after each step, the last gives new 100%

    @property
    def rollback(self) -> dict[str, int]:
        """Traffic that puts everything back on the old deployment."""
        return {self.old: 100, self.new: 0} if self.old else {self.new: 0}


def plan_rollout(traffic: dict[str, int], steps: list[int]) -> Rollout:
    """`traffic`: the endpoint's current split (deployment -> percent)."""
    serving = sorted((d for d, share in traffic.items() if share > 0), key=lambda d: -traffic[d])
    old = serving[0] if serving else None
    new = next(c for c in COLOURS if c != old) if old in COLOURS or old is None else COLOURS[0]
    if old is None:
        return Rollout(new, None, ({new: 100},))
    states = tuple({old: 100 - share, new: share} for share in steps)
    return Rollout(new, old, states)
