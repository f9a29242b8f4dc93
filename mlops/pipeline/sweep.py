"""Azure ML sweep jobs, the pure part: the search space and the validated `SweepSpec` that
`parse_sweep` builds. Policies and the objective live in `sweep_policies`, samplers in
`sweep_samplers` (split to keep modules small); `mlops.backends.local.sweep` drives them.

Every rule cites the Microsoft page it comes from: `reference-yaml-job-sweep` and
`how-to-tune-hyperparameters` under https://learn.microsoft.com/azure/machine-learning/.
Pure: stdlib only.
"""

from __future__ import annotations

import importlib.util
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mlops.errors import Issue, PipelineError
from mlops.pipeline.model import Where
from mlops.pipeline.sweep_policies import (
    BanditPolicy,
    MedianStoppingPolicy,
    Policy,
    TruncationSelectionPolicy,
)

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
