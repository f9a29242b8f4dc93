"""Azure ML sweep early termination and the objective, pure: the policies (bandit, median
stopping, truncation selection) that decide from metric histories which running trials to
stop, and which trial is best. Split from `mlops.pipeline.sweep`, which parses a policy into
these types; they depend on nothing of it.

Every rule cites `how-to-tune-hyperparameters` under
https://learn.microsoft.com/azure/machine-learning/. Pure: stdlib only.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class _Interval:
    """how-to-tune-hyperparameters: a policy fires at metric-log counts that are multiples of
    evaluation_interval and >= delay_evaluation; an interval of 0 means 1."""

    evaluation_interval: int = 1
    delay_evaluation: int = 0

    def due(self, n: int) -> bool:
        interval = self.evaluation_interval or 1
        return n >= 1 and n % interval == 0 and n >= self.delay_evaluation


@dataclass(frozen=True)
class BanditPolicy(_Interval):
    """Stop a trial outside the slack of the best trial at the same interval."""

    slack_factor: float | None = None
    slack_amount: float | None = None
    type: ClassVar[str] = "bandit"

    def check(
        self, index: int, n: int, histories: Mapping[int, list[float]], goal: str, running: set[int]
    ) -> str | None:
        value = histories[index][n - 1]
        peers = {
            i: h[n - 1] for i, h in histories.items() if len(h) >= n and not math.isnan(h[n - 1])
        }
        if not peers:
            return None
        sign = 1 if goal == "maximize" else -1
        leader = max(peers, key=lambda i: (sign * peers[i], -i))
        top = peers[leader]
        # how-to-tune-hyperparameters (bandit): maximize stops value < best / (1 + slack_factor)
        # or value < best - slack_amount; minimize mirrors it
        if self.slack_factor is not None:
            limit = top / (1 + self.slack_factor) if sign > 0 else top * (1 + self.slack_factor)
            slack = f"slack_factor {self.slack_factor:g}"
        else:
            amount = self.slack_amount or 0.0
            limit = top - amount if sign > 0 else top + amount
            slack = f"slack_amount {amount:g}"
        if math.isnan(value) or sign * value < sign * limit:
            return (
                f"bandit: {value:.4g} at interval {n} is outside {slack} of the best "
                f"{top:.4g} (trial {leader})"
            )
        return None


@dataclass(frozen=True)
class MedianStoppingPolicy(_Interval):
    """Stop a trial whose best so far is worse than the median of the others' running
    averages over intervals 1..N (how-to-tune-hyperparameters, median stopping)."""

    type: ClassVar[str] = "median_stopping"

    def check(
        self, index: int, n: int, histories: Mapping[int, list[float]], goal: str, running: set[int]
    ) -> str | None:
        averages = [
            statistics.fmean(h[:n])
            for i, h in histories.items()
            if i != index and len(h) >= n and all(not math.isnan(v) for v in h[:n])
        ]
        if not averages:
            return None
        median = statistics.median(averages)
        own = [v for v in histories[index][:n] if not math.isnan(v)]
        mine = (max(own) if goal == "maximize" else min(own)) if own else math.nan
        worse = math.isnan(mine) or (mine < median if goal == "maximize" else mine > median)
        if worse:
            return (
                f"median_stopping: best {mine:.4g} by interval {n} is worse than the median "
                f"{median:.4g} of {len(averages)} other trial(s)' running averages"
            )
        return None


@dataclass(frozen=True)
class TruncationSelectionPolicy(_Interval):
    """Stop a trial in the lowest truncation_percentage % at an interval
    (how-to-tune-hyperparameters, truncation selection)."""

    truncation_percentage: int = 10
    exclude_finished_jobs: bool = False
    type: ClassVar[str] = "truncation_selection"

    def check(
        self, index: int, n: int, histories: Mapping[int, list[float]], goal: str, running: set[int]
    ) -> str | None:
        pool = [
            _score(h[n - 1], goal)
            for i, h in histories.items()
            if len(h) >= n and (not self.exclude_finished_jobs or i in running)
        ]
        lowest = len(pool) * self.truncation_percentage // 100  # how many are cut
        mine = _score(histories[index][n - 1], goal)
        better = sum(1 for s in pool if s > mine)
        if lowest and better >= len(pool) - lowest:
            return (
                f"truncation_selection: {histories[index][n - 1]:.4g} at interval {n} is in the "
                f"lowest {self.truncation_percentage}% of {len(pool)} trial(s)"
            )
        return None


Policy = BanditPolicy | MedianStoppingPolicy | TruncationSelectionPolicy


def _score(value: float, goal: str) -> float:
    """Higher is better whatever the goal; NaN ranks last."""
    if math.isnan(value):
        return -math.inf
    return value if goal == "maximize" else -value


class EarlyTermination:
    """Applies a policy as metrics arrive, evaluating each trial once per interval (a trial
    that logged three values since the last poll is checked at each due count in turn)."""

    def __init__(self, policy: Policy, goal: str) -> None:
        self.policy = policy
        self.goal = goal
        self._checked: dict[int, int] = {}  # trial -> metric count evaluated up to

    def to_stop(self, histories: Mapping[int, list[float]], running: set[int]) -> dict[int, str]:
        """Which running trials to stop now (index -> reason). `histories` holds every
        trial's primary-metric values so far, finished trials included."""
        stops: dict[int, str] = {}
        for index in sorted(running):
            history = histories.get(index, [])
            for n in range(self._checked.get(index, 0) + 1, len(history) + 1):
                self._checked[index] = n
                if not self.policy.due(n):
                    continue
                reason = self.policy.check(index, n, histories, self.goal, running)
                if reason:
                    stops[index] = reason
                    break
        return stops


# -- the objective ---------------------------------------------------------------------------


def objective(history: list[float]) -> float | None:
    """A trial's objective is the LAST value it logged of the primary metric: its outputs are
    its final model, so the value that describes them is the final one."""
    return history[-1] if history else None


def best(objectives: Mapping[int, float | None], goal: str) -> int | None:
    """The index of the best objective by goal; NaN or infinite values cannot be ranked and
    ties go to the earlier trial."""
    ranked = [(i, v) for i, v in objectives.items() if v is not None and math.isfinite(v)]
    if not ranked:
        return None
    sign = 1 if goal == "maximize" else -1
    return max(ranked, key=lambda iv: (sign * iv[1], -iv[0]))[0]
