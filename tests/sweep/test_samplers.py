"""Samplers propose trials with Azure ML's formulas, through one ask/tell interface."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from mlops.pipeline.model import Where
from mlops.pipeline.sweep import Parameter, SweepSpec, parse_sweep, quantize
from mlops.pipeline.sweep_samplers import make_sampler

WHERE = Where(Path("sweep.yml"))


def spec(algorithm: Any, space: dict[str, Any], trials: int | None = None) -> SweepSpec:
    data: dict[str, Any] = {
        "sampling_algorithm": algorithm,
        "search_space": space,
        "objective": {"primary_metric": "accuracy", "goal": "maximize"},
    }
    if trials is not None:
        data["limits"] = {"max_total_trials": trials}
    return parse_sweep(data, WHERE, "jobs.sweep")


def drain(sampler: Any, value: float | None = 0.5) -> list[tuple[int, dict[str, Any]]]:
    asked = []
    while (trial := sampler.ask()) is not None:
        asked.append(trial)
        sampler.tell(trial[0], value)
    return asked


GRID = {
    "C": {"type": "choice", "values": [0.1, 1.0]},
    "kernel": {"type": "choice", "values": ["linear", "rbf", "poly"]},
}


def test_grid_over_two_by_three_choices_asks_six_trials_then_stops() -> None:
    asked = drain(make_sampler(spec("grid", GRID)))
    assert [i for i, _ in asked] == [0, 1, 2, 3, 4, 5]
    assert [tuple(p.values()) for _, p in asked] == [
        (0.1, "linear"), (0.1, "rbf"), (0.1, "poly"),
        (1.0, "linear"), (1.0, "rbf"), (1.0, "poly"),
    ]  # fmt: skip


def test_grid_stops_at_max_total_trials_when_it_is_smaller_than_the_grid() -> None:
    sweep = spec("grid", GRID, trials=4)
    assert len(drain(make_sampler(sweep))) == 4
    assert "the grid has 6 combinations" in sweep.notes[0]


def test_grid_smaller_than_max_total_trials_counts_only_its_combinations() -> None:
    sweep = spec("grid", GRID, trials=50)
    assert sweep.max_total_trials == 6
    assert len(drain(make_sampler(sweep))) == 6


def test_random_with_a_seed_is_reproducible_and_differs_by_seed() -> None:
    space = {"lr": {"type": "loguniform", "min_value": -5, "max_value": 0}}
    first = drain(make_sampler(spec({"type": "random", "seed": 42}, space, trials=5)))
    again = drain(make_sampler(spec({"type": "random", "seed": 42}, space, trials=5)))
    other = drain(make_sampler(spec({"type": "random", "seed": 43}, space, trials=5)))
    assert first == again != other
    assert len(first) == 5


def test_random_values_follow_azures_formulas_for_all_ten_types() -> None:
    space = {
        "choice": {"type": "choice", "values": ["a", "b"]},
        "randint": {"type": "randint", "upper": 3},
        "uniform": {"type": "uniform", "min_value": 2, "max_value": 4},
        "loguniform": {"type": "loguniform", "min_value": 0, "max_value": 1},
        "quniform": {"type": "quniform", "min_value": 0, "max_value": 1, "q": 0.25},
        "qloguniform": {"type": "qloguniform", "min_value": 0, "max_value": 2, "q": 1},
        "normal": {"type": "normal", "mu": 10, "sigma": 0.5},
        "lognormal": {"type": "lognormal", "mu": 0, "sigma": 0.5},
        "qnormal": {"type": "qnormal", "mu": 0, "sigma": 5, "q": 2},
        "qlognormal": {"type": "qlognormal", "mu": 1, "sigma": 0.5, "q": 0.5},
    }
    asked = [p for _, p in drain(make_sampler(spec({"type": "random", "seed": 1}, space, 300)))]
    column = {name: [p[name] for p in asked] for name in space}
    assert set(column["choice"]) == {"a", "b"}
    assert set(column["randint"]) == {0, 1, 2}  # upper is exclusive
    assert all(isinstance(v, int) for v in column["randint"])
    assert all(2 <= v <= 4 for v in column["uniform"])
    assert all(1 <= v <= math.e for v in column["loguniform"])  # exp(min)..exp(max)
    assert set(column["quniform"]) <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert set(column["qloguniform"]) <= {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0}
    assert 9.8 < sum(column["normal"]) / 300 < 10.2
    assert all(v > 0 for v in column["lognormal"])
    assert all(v % 2 == 0 and isinstance(v, float) for v in column["qnormal"])
    assert all((v * 2).is_integer() for v in column["qlognormal"])


def test_q_variants_give_multiples_of_q_as_floats_like_azure() -> None:
    assert quantize(0.30000000000000004, 0.1) == 0.3
    assert quantize(2.6, 1) == 3.0 and isinstance(quantize(2.6, 1), float)
    assert quantize(7, 5) == 5.0  # round(1.4) * 5
    assert quantize(0.5, 1) == 0.0  # Python's round, like numpy's: half to even


def test_sobol_rule_spreads_points_reproducibly_with_a_seed() -> None:
    space = {"x": {"type": "uniform", "min_value": 0, "max_value": 1}}
    sobol = {"type": "random", "seed": 3, "rule": "sobol"}
    first = [p["x"] for _, p in drain(make_sampler(spec(sobol, space, trials=8)))]
    again = [p["x"] for _, p in drain(make_sampler(spec(sobol, space, trials=8)))]
    assert first == again
    # eight Sobol points put exactly one point in each eighth of [0, 1)
    assert sorted(int(x * 8) for x in first) == list(range(8))


def test_parameter_maps_the_unit_interval_ends_without_error() -> None:
    normal = Parameter("normal", mu=0.0, sigma=1.0)
    assert math.isfinite(normal.from_unit(0.0)) and math.isfinite(normal.from_unit(1.0))
    assert Parameter("choice", values=("a", "b")).from_unit(1.0) == "b"
    assert Parameter("randint", upper=4).from_unit(0.9999999999) == 3
    huge = Parameter("lognormal", mu=700.0, sigma=50.0)
    assert huge.from_unit(0.99) == math.inf  # exp overflow is infinite, not a traceback


def test_bayesian_asks_n_trials_within_the_space_and_learns_from_tell() -> None:
    space = {
        "C": {"type": "uniform", "min_value": 0.5, "max_value": 2},
        "kernel": {"type": "choice", "values": ["linear", "rbf"]},
        "depth": {"type": "quniform", "min_value": 0.5, "max_value": 3, "q": 1},
    }
    sampler = make_sampler(spec({"type": "bayesian"}, space, trials=12))
    asked = []
    while (trial := sampler.ask()) is not None:
        index, params = trial
        asked.append(params)
        # a failed trial is told None; the others score by C
        sampler.tell(index, None if index == 3 else params["C"])
    assert len(asked) == 12
    assert all(0.5 <= p["C"] <= 2 for p in asked)
    assert {p["kernel"] for p in asked} <= {"linear", "rbf"}
    # multiples of q, as round(U/q)*q gives: 0.5 rounds to 0 and 3 is reachable
    assert {p["depth"] for p in asked} <= {0.0, 1.0, 2.0, 3.0}


@pytest.mark.parametrize("algorithm", ["random", "grid", "bayesian"])
def test_every_sampler_returns_none_once_exhausted(algorithm: str) -> None:
    space = {"k": {"type": "choice", "values": [1, 2, 3]}}
    sampler = make_sampler(spec(algorithm, space, trials=2))
    assert len(drain(sampler)) == 2
    assert sampler.ask() is None
