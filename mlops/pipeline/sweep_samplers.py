"""Azure ML sweep samplers: random (or Sobol), grid and bayesian, one `Sampler` interface to
ask for a trial's parameters and tell its result. Split from `mlops.pipeline.sweep`, whose
`SweepSpec` and `Parameter` they sample; nothing there imports them.

Pure at import: scipy (Sobol) and optuna (bayesian) are imported by the sampler that needs them.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from typing import Any, Protocol

from mlops.pipeline.sweep import SweepSpec, quantize


class Sampler(Protocol):
    """One interface for every algorithm: ask for a trial, tell how it went."""

    def ask(self) -> tuple[int, dict[str, Any]] | None:
        """The next trial (index from 0, its parameter values), or None when exhausted."""
        ...

    def tell(self, index: int, value: float | None) -> None:
        """The trial's objective; None when it failed or was stopped."""
        ...


class RandomSampler:
    """Random (or Sobol) points of [0, 1)^d mapped through each parameter's formula."""

    def __init__(self, spec: SweepSpec) -> None:
        self._names = list(spec.search_space)
        self._space = spec.search_space
        self._total = spec.max_total_trials
        self._next = 0
        self._rng = random.Random(spec.seed)
        self._sobol: list[list[float]] | None = None
        if spec.rule == "sobol":
            self._sobol = _sobol_points(len(self._names), self._total, spec.seed)

    def ask(self) -> tuple[int, dict[str, Any]] | None:
        if self._next >= self._total:
            return None
        index = self._next
        self._next += 1
        if self._sobol is not None:
            point = self._sobol[index]
        else:
            point = [self._rng.random() for _ in self._names]
        return index, {
            n: self._space[n].from_unit(u) for n, u in zip(self._names, point, strict=True)
        }

    def tell(self, index: int, value: float | None) -> None:
        """Random sampling does not learn from results."""


def _sobol_points(dimensions: int, count: int, seed: int | None) -> list[list[float]]:
    """Scrambled Sobol points, a power of two of them (their balance needs it)."""
    from scipy.stats import qmc

    try:
        engine = qmc.Sobol(d=dimensions, scramble=True, rng=seed)
    except TypeError:  # scipy < 1.15 names it seed
        engine = qmc.Sobol(d=dimensions, scramble=True, seed=seed)
    return engine.random_base2(max(0, math.ceil(math.log2(count)))).tolist()


class GridSampler:
    """Every combination of choices (itertools.product) in declared order: the first key
    varies slowest, each key's values in the order written."""

    def __init__(self, spec: SweepSpec) -> None:
        self._names = list(spec.search_space)
        combos = itertools.product(*(spec.search_space[n].values for n in self._names))
        self._combos: Iterator[tuple[Any, ...]] = itertools.islice(combos, spec.max_total_trials)
        self._next = 0

    def ask(self) -> tuple[int, dict[str, Any]] | None:
        combo = next(self._combos, None)
        if combo is None:
            return None
        self._next += 1
        return self._next - 1, dict(zip(self._names, combo, strict=True))

    def tell(self, index: int, value: float | None) -> None:
        """Grid sampling does not learn from results."""


class BayesianSampler:
    """Optuna's TPE through its ask/tell interface. quniform is sampled as an integer k in
    [round(min/q), round(max/q)] giving k*q, so values are multiples of q as Azure's
    round(U/q)*q, not min + k*q as optuna's `step` would give."""

    def __init__(self, spec: SweepSpec) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        direction = "maximize" if spec.goal == "maximize" else "minimize"
        self._study = optuna.create_study(
            direction=direction, sampler=optuna.samplers.TPESampler(seed=spec.seed)
        )
        self._space = spec.search_space
        self._distributions: dict[str, Any] = {}
        d = optuna.distributions
        for name, p in spec.search_space.items():
            if p.type == "choice":
                self._distributions[name] = d.CategoricalDistribution(list(range(len(p.values))))
            elif p.type == "uniform":
                self._distributions[name] = d.FloatDistribution(p.min_value, p.max_value)
            else:
                low, high = round(p.min_value / p.q), round(p.max_value / p.q)
                self._distributions[name] = d.IntDistribution(low, high)
        self._total = spec.max_total_trials
        self._trials: dict[int, Any] = {}
        self._next = 0

    def ask(self) -> tuple[int, dict[str, Any]] | None:
        if self._next >= self._total:
            return None
        trial = self._study.ask(self._distributions)
        index = self._next
        self._next += 1
        self._trials[index] = trial
        params: dict[str, Any] = {}
        for name, p in self._space.items():
            raw = trial.params[name]
            if p.type == "choice":
                params[name] = p.values[raw]
            elif p.type == "uniform":
                params[name] = float(raw)
            else:
                params[name] = quantize(raw * p.q, p.q)
        return index, params

    def tell(self, index: int, value: float | None) -> None:
        trial = self._trials.pop(index, None)
        if trial is None:
            return
        if value is None or not math.isfinite(value):
            self._study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
        else:
            self._study.tell(trial, value)


def make_sampler(spec: SweepSpec) -> Sampler:
    """The sampler for the spec's algorithm."""
    if spec.algorithm == "grid":
        return GridSampler(spec)
    if spec.algorithm == "bayesian":
        return BayesianSampler(spec)
    return RandomSampler(spec)
