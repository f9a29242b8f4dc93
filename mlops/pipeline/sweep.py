"""Azure ML sweep jobs, the pure part: the search space, the samplers, early termination and
which trial is best. The local orchestrator (`mlops.backends.local.sweep`) drives these.

Every rule cites the Microsoft page it comes from: `reference-yaml-job-sweep` and
`how-to-tune-hyperparameters` under https://learn.microsoft.com/azure/machine-learning/.
Pure: stdlib only; optuna and scipy are imported by the sampler that needs them.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import random
import statistics
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from mlops.errors import Issue, PipelineError
from mlops.pipeline.model import Where

# reference-yaml-job-sweep: the ten search space types and their arguments
SEARCH_SPACE_TYPES: dict[str, tuple[str, ...]] = {
    "choice": ("values",),
    "randint": ("upper",),
    "uniform": ("min_value", "max_value"),
    "loguniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"),
    "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"),
    "lognormal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"),
    "qlognormal": ("mu", "sigma", "q"),
}
# how-to-tune-hyperparameters: grid takes only choice; bayesian only choice, uniform, quniform
ALGORITHMS: dict[str, frozenset[str]] = {
    "random": frozenset(SEARCH_SPACE_TYPES),
    "grid": frozenset({"choice"}),
    "bayesian": frozenset({"choice", "uniform", "quniform"}),
}
GOALS = ("maximize", "minimize")
# reference-yaml-job-sweep: max_total_trials defaults to 1000, range 1-1000
MAX_TOTAL_TRIALS = 1000
MAX_SECONDS = 2**31 - 1  # a local bound: larger timeouts overflow thread waits
_EXP_LIMIT = 709.0  # math.exp overflows above this


@dataclass(frozen=True)
class Parameter:
    """One search space entry; `from_unit` maps a point of [0, 1) to a value, so random and
    Sobol sampling share Azure's formulas (reference-yaml-job-sweep, search space types)."""

    type: str
    values: tuple[Any, ...] = ()
    upper: int = 0
    min_value: float = 0.0
    max_value: float = 0.0
    mu: float = 0.0
    sigma: float = 1.0
    q: float = 1.0

    def from_unit(self, u: float) -> Any:
        u = min(max(u, 1e-12), 1.0 - 1e-12)  # inverse CDFs are undefined at 0 and 1
        kind = self.type
        if kind == "choice":
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        if kind == "randint":  # [0, upper): upper is exclusive
            return min(int(u * self.upper), self.upper - 1)
        if kind in ("uniform", "loguniform", "quniform", "qloguniform"):
            x = self.min_value + u * (self.max_value - self.min_value)
        else:
            x = statistics.NormalDist(self.mu, self.sigma).inv_cdf(u)
        if "log" in kind:  # loguniform = exp(uniform(min, max)); lognormal = exp(normal)
            x = math.exp(x) if x <= _EXP_LIMIT else math.inf
        if kind.startswith("q"):  # q-variants: round(x / q) * q
            return quantize(x, self.q)
        return x


def quantize(x: float, q: float) -> float:
    """Azure's round(x / q) * q, a float as on Azure (q=1 gives 3.0, not 3), without the
    binary noise of the product (0.1 * 3 is 0.30000000000000004)."""
    if not math.isfinite(x):
        return x
    decimals = max(0, -Decimal(repr(float(q))).normalize().as_tuple().exponent)  # type: ignore[operator]
    return float(round(round(x / q) * q, decimals))


# -- early termination ---------------------------------------------------------------------


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


# -- the spec --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepSpec:
    search_space: dict[str, Parameter]
    algorithm: str
    primary_metric: str
    goal: str
    max_total_trials: int
    seed: int | None = None
    rule: str | None = None  # random: "random" or "sobol"
    max_concurrent_trials: int | None = None  # None: as many as max_total_trials
    timeout: float | None = None
    trial_timeout: float | None = None
    policy: Policy | None = None
    notes: list[str] = field(default_factory=list)  # for the runner to print


def parse_sweep(data: Mapping[str, Any], where: Where, path: str) -> SweepSpec:
    """Validate a sweep job or step as Azure ML does and return what the local runner needs;
    every problem is collected and raised once as a `PipelineError`."""
    c = _Checker(where, path)
    algorithm, seed, rule = _algorithm(c, data.get("sampling_algorithm"))
    space = _search_space(c, data.get("search_space"), algorithm)
    metric, goal = _objective(c, data.get("objective"))
    limits = _limits(c, data.get("limits"))
    policy = _policy(c, data.get("early_termination"))
    if c.issues:
        step = path.rsplit(".", 1)[-1] if path else "sweep job"
        count = len(c.issues)
        raise PipelineError(
            f"sweep '{step}' is invalid: {count} problem{'s' if count > 1 else ''}",
            hint="see reference-yaml-job-sweep on learn.microsoft.com for the schema",
            issues=c.issues,
        )
    notes: list[str] = []
    total = limits.get("max_total_trials")
    if algorithm == "grid":
        size = math.prod(len(p.values) for p in space.values())
        if total is None:
            total = min(size, MAX_TOTAL_TRIALS)
            notes.append(
                f"limits.max_total_trials is not set: running the whole grid, {total} trials"
            )
        if size > total:
            notes.append(
                f"the grid has {size} combinations; max_total_trials runs the first {total}"
            )
        total = min(total, size)  # a grid cannot ask more trials than it has combinations
    elif total is None:
        # reference-yaml-job-sweep: the default is 1000 (the SDK requires the key)
        total = MAX_TOTAL_TRIALS
        notes.append(
            f"limits.max_total_trials is not set: using Azure ML's default of {total} trials "
            "(the Azure ML SDK requires it; set it to run fewer)"
        )
    if algorithm == "bayesian":
        if total < 20 * len(space):  # how-to-tune-hyperparameters: trials >= 20 x parameters
            notes.append(
                f"Azure ML advises at least 20 trials per hyperparameter for bayesian sampling "
                f"({20 * len(space)} here); {total} may not converge"
            )
        if policy is not None:  # how-to-tune-hyperparameters (v1): no early termination
            notes.append(
                "Azure ML documents that bayesian sampling does not support early termination; "
                "the policy still applies locally"
            )
    if (
        isinstance(data.get("sampling_algorithm"), Mapping)
        and "logbase" in data["sampling_algorithm"]
    ):
        notes.append("sampling_algorithm.logbase is ignored locally: log distributions use base e")
    return SweepSpec(
        search_space=space,
        algorithm=algorithm,
        seed=seed,
        rule=rule,
        primary_metric=metric,
        goal=goal,
        max_total_trials=total,
        max_concurrent_trials=limits.get("max_concurrent_trials"),
        timeout=limits.get("timeout"),
        trial_timeout=limits.get("trial_timeout"),
        policy=policy,
        notes=notes,
    )


class _Checker:
    """Collects located issues; each method returns the clean value or None."""

    def __init__(self, where: Where, path: str) -> None:
        self.where = where
        self.path = path
        self.issues: list[Issue] = []

    def at(self, *parts: str) -> str:
        return ".".join(p for p in (self.path, *parts) if p)

    def fail(self, parts: tuple[str, ...], message: str, hint: str | None = None) -> None:
        self.issues.append(self.where.issue(self.at(*parts), message, hint))

    def mapping(self, value: Any, parts: tuple[str, ...], allowed: tuple[str, ...]) -> dict | None:
        if not isinstance(value, Mapping):
            self.fail(parts, f"must be a mapping, got {_describe(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.fail(
                    (*parts, str(key)), f"unknown key '{key}'", f"allowed: {', '.join(allowed)}"
                )
        return dict(value)

    def number(
        self,
        value: Any,
        parts: tuple[str, ...],
        *,
        positive: bool = False,
        minimum: float | None = None,
    ) -> float | None:
        if _is_bool(value) or not isinstance(value, int | float):
            hint = "write the number without quotes" if isinstance(value, str) else None
            self.fail(parts, f"must be a number, got {_describe(value)}", hint)
            return None
        if not math.isfinite(value) or abs(value) > 1e300:
            self.fail(parts, f"must be a finite number of at most 1e300 in size, got {value!r}")
            return None
        if positive and value <= 0:
            self.fail(parts, f"must be greater than 0, got {value!r}")
            return None
        if minimum is not None and value < minimum:
            self.fail(parts, f"must be at least {minimum:g}, got {value!r}")
            return None
        return float(value)

    def integer(
        self, value: Any, parts: tuple[str, ...], low: int, high: int | None = None
    ) -> int | None:
        if _is_bool(value) or not isinstance(value, int):
            self.fail(parts, f"must be a whole number, got {_describe(value)}")
            return None
        if value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"at least {low}"
            self.fail(parts, f"must be {span}, got {int(value)}")
            return None
        return int(value)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "ScalarBoolean"  # ruamel anchors


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if _is_bool(value):
        return f"a boolean ({value})"
    if isinstance(value, str):
        return f"the string {str(value)[:40]!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"{type(value).__name__} {value!r}"[:60]


def _algorithm(c: _Checker, raw: Any) -> tuple[str, int | None, str | None]:
    """reference-yaml-job-sweep: a bare `random|grid|bayesian` or `{type, ...}`; random takes
    seed and rule (random|sobol), the SDK adds logbase."""
    where = ("sampling_algorithm",)
    if raw is None:
        c.fail(where, "is required", "one of: random, grid, bayesian")
        return "random", None, "random"
    if isinstance(raw, str):
        if raw not in ALGORITHMS:
            c.fail(where, f"unknown sampling algorithm {raw!r}", "one of: random, grid, bayesian")
            return "random", None, "random"
        return str(raw), None, "random" if raw == "random" else None
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    allowed = ("type", "seed", "rule", "logbase") if kind == "random" else ("type",)
    data = c.mapping(raw, where, allowed)
    if data is None:
        return "random", None, "random"
    if kind not in ALGORITHMS:
        c.fail(
            (*where, "type"),
            f"unknown sampling algorithm {kind!r}",
            "one of: random, grid, bayesian",
        )
        return "random", None, "random"
    if kind != "random":
        return str(kind), None, None
    seed = None
    if data.get("seed") is not None:
        seed = c.integer(data["seed"], (*where, "seed"), 0, 2**32 - 1)
    rule = data.get("rule", "random")
    if rule not in ("random", "sobol"):
        c.fail((*where, "rule"), f"unknown rule {rule!r}", "one of: random, sobol")
        rule = "random"
    elif rule == "sobol" and importlib.util.find_spec("scipy") is None:
        c.fail(
            (*where, "rule"),
            "rule sobol needs scipy, which is not installed in mlops's environment",
            "pip install scipy, or use rule: random",
        )
    return "random", seed, str(rule)


def _search_space(c: _Checker, raw: Any, algorithm: str) -> dict[str, Parameter]:
    where = ("search_space",)
    if raw is None:
        c.fail(where, "is required: the hyperparameters to sweep")
        return {}
    if not isinstance(raw, Mapping) or not raw:
        c.fail(where, f"must be a non-empty mapping, got {_describe(raw)}")
        return {}
    space: dict[str, Parameter] = {}
    for name, entry in raw.items():
        parts = (*where, str(name))
        if not isinstance(name, str) or not name.strip():
            c.fail(parts, f"a hyperparameter name must be a non-empty string, got {name!r}")
            continue
        kind = entry.get("type") if isinstance(entry, Mapping) else None
        if isinstance(entry, Mapping) and kind not in SEARCH_SPACE_TYPES:
            c.fail(
                (*parts, "type"),
                f"unknown search space type {kind!r}",
                f"one of: {', '.join(SEARCH_SPACE_TYPES)}",
            )
            continue
        data = c.mapping(entry, parts, ("type", *SEARCH_SPACE_TYPES.get(str(kind), ())))
        if data is None:
            continue
        if kind not in ALGORITHMS[algorithm]:
            # how-to-tune-hyperparameters: grid takes choice only; bayesian choice/uniform/quniform
            c.fail(
                (*parts, "type"),
                f"{algorithm} sampling does not support {kind}",
                f"{algorithm} takes: {', '.join(sorted(ALGORITHMS[algorithm]))}",
            )
            continue
        missing = [a for a in SEARCH_SPACE_TYPES[kind] if a not in data]
        for arg in missing:
            c.fail((*parts, arg), f"is required for {kind}")
        if not missing:
            parameter = _parameter(c, parts, str(kind), data)
            if parameter is not None:
                space[name] = parameter
    return space


def _parameter(c: _Checker, parts: tuple[str, ...], kind: str, data: dict) -> Parameter | None:
    """The arguments of one search space entry; Azure's formulas must not overflow here."""
    before = len(c.issues)
    if kind == "choice":
        values = data["values"]
        if not isinstance(values, list | tuple) or not values:
            c.fail((*parts, "values"), f"must be a non-empty list, got {_describe(values)}")
            return None
        clean = []
        for i, value in enumerate(values):
            if isinstance(value, str) or _is_bool(value) or value is None:
                clean.append(str(value) if isinstance(value, str) else value)
            elif isinstance(value, int | float):
                if c.number(value, (*parts, "values", str(i))) is not None:
                    clean.append(int(value) if isinstance(value, int) else float(value))
            else:
                c.fail(
                    (*parts, "values", str(i)),
                    f"must be a number, string or boolean, got {_describe(value)}",
                    "nested search spaces (mappings as choices) are not supported locally",
                )
        return Parameter(kind, values=tuple(clean)) if len(c.issues) == before else None
    if kind == "randint":
        upper = c.integer(data["upper"], (*parts, "upper"), 1)
        return Parameter(kind, upper=upper) if upper is not None else None
    q = c.number(data["q"], (*parts, "q"), positive=True) if "q" in data else 1.0
    if "mu" in data:
        mu = c.number(data["mu"], (*parts, "mu"))
        sigma = c.number(data["sigma"], (*parts, "sigma"), positive=True)
        if mu is None or sigma is None or q is None:
            return None
        if kind.startswith("q") and (abs(mu) + 40 * sigma) / q > 2**53:
            c.fail((*parts, "q"), f"q {q:g} is too small for mu {mu:g} and sigma {sigma:g}")
            return None
        return Parameter(kind, mu=mu, sigma=sigma, q=q)
    low = c.number(data["min_value"], (*parts, "min_value"))
    high = c.number(data["max_value"], (*parts, "max_value"))
    if low is None or high is None or q is None:
        return None
    if low > high:
        c.fail((*parts, "min_value"), f"min_value {low:g} is greater than max_value {high:g}")
        return None
    if "log" in kind and high > _EXP_LIMIT:
        # reference-yaml-job-sweep: loguniform gives exp(min)..exp(max)
        c.fail(
            (*parts, "max_value"), f"exp({high:g}) overflows: {kind} takes exponents", "at most 709"
        )
        return None
    top = math.exp(high) if "log" in kind else max(abs(low), abs(high))
    if kind.startswith("q") and top / q > 2**53:
        c.fail((*parts, "q"), f"q {q:g} is too small for this range")
        return None
    return Parameter(kind, min_value=low, max_value=high, q=q)


def _objective(c: _Checker, raw: Any) -> tuple[str, str]:
    """reference-yaml-job-sweep: objective{primary_metric, goal: maximize|minimize}."""
    if raw is None:
        c.fail(("objective",), "is required: primary_metric and goal (maximize or minimize)")
        return "", "maximize"
    data = c.mapping(raw, ("objective",), ("primary_metric", "goal"))
    if data is None:
        return "", "maximize"
    metric = data.get("primary_metric")
    if not isinstance(metric, str) or not metric.strip():
        c.fail(
            ("objective", "primary_metric"),
            f"must be a metric name, got {_describe(metric)}",
            "the exact name the trial logs with mlflow.log_metric",
        )
        metric = ""
    goal = data.get("goal")
    if goal not in GOALS:
        c.fail(("objective", "goal"), f"must be maximize or minimize, got {_describe(goal)}")
        goal = "maximize"
    return str(metric), str(goal)


def _limits(c: _Checker, raw: Any) -> dict[str, Any]:
    """reference-yaml-job-sweep: max_total_trials 1-1000 (default 1000),
    max_concurrent_trials (default max_total_trials), timeout and trial_timeout in seconds."""
    if raw is None:
        return {}
    keys = ("max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout")
    data = c.mapping(raw, ("limits",), keys)
    if data is None:
        return {}
    out: dict[str, Any] = {}
    for key in keys:
        if data.get(key) is None:
            continue
        high = MAX_TOTAL_TRIALS if key == "max_total_trials" else MAX_SECONDS
        value = c.integer(data[key], ("limits", key), 1, high)
        if value is not None:
            out[key] = value if key.startswith("max_") else float(value)
    return out


def _policy(c: _Checker, raw: Any) -> Policy | None:
    """reference-yaml-job-sweep / how-to-tune-hyperparameters: bandit, median_stopping,
    truncation_selection; evaluation_interval and delay_evaluation on each."""
    if raw is None:
        return None
    where = ("early_termination",)
    kinds = {
        "bandit": ("slack_factor", "slack_amount"),
        "median_stopping": (),
        "truncation_selection": ("truncation_percentage", "exclude_finished_jobs"),
    }
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if isinstance(raw, Mapping) and kind not in kinds:
        c.fail(
            (*where, "type"),
            f"unknown early termination policy {kind!r}",
            f"one of: {', '.join(kinds)}",
        )
        return None
    common = ("type", "evaluation_interval", "delay_evaluation")
    data = c.mapping(raw, where, (*common, *kinds.get(str(kind), ())))
    if data is None:
        return None
    before = len(c.issues)
    timing = {}
    for key in common[1:]:
        if data.get(key) is not None:
            timing[key] = c.integer(data[key], (*where, key), 0, MAX_TOTAL_TRIALS * 1000)
    if kind == "bandit":
        # how-to-tune-hyperparameters: slack_factor or slack_amount, one of them
        given = [k for k in ("slack_factor", "slack_amount") if data.get(k) is not None]
        if len(given) != 1:
            c.fail(where, "bandit takes exactly one of slack_factor or slack_amount")
            return None
        slack = c.number(data[given[0]], (*where, given[0]), minimum=0)
        if len(c.issues) > before:
            return None
        return BanditPolicy(**timing, **{given[0]: slack})  # type: ignore[arg-type]
    if kind == "median_stopping":
        return None if len(c.issues) > before else MedianStoppingPolicy(**timing)  # type: ignore[arg-type]
    percentage = None
    if data.get("truncation_percentage") is None:
        c.fail((*where, "truncation_percentage"), "is required for truncation_selection (1-99)")
    else:
        percentage = c.integer(
            data["truncation_percentage"], (*where, "truncation_percentage"), 1, 99
        )
    exclude = data.get("exclude_finished_jobs", False)
    if not _is_bool(exclude):
        c.fail(
            (*where, "exclude_finished_jobs"), f"must be true or false, got {_describe(exclude)}"
        )
    if len(c.issues) > before or percentage is None:
        return None
    return TruncationSelectionPolicy(
        **timing,  # type: ignore[arg-type]
        truncation_percentage=percentage,
        exclude_finished_jobs=bool(exclude),
    )


# -- samplers --------------------------------------------------------------------------------


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
