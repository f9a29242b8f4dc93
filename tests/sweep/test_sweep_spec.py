"""A sweep is validated as Azure ML validates it: every problem located, reported at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops.errors import PipelineError
from mlops.pipeline.model import Where
from mlops.pipeline.sweep import parse_sweep
from mlops.pipeline.sweep_policies import (
    BanditPolicy,
    MedianStoppingPolicy,
    TruncationSelectionPolicy,
)

WHERE = Where(Path("pipeline.yml"), 12, 5)


def sweep(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sampling_algorithm": "random",
        "search_space": {"C": {"type": "uniform", "min_value": 0.1, "max_value": 1.0}},
        "objective": {"primary_metric": "accuracy", "goal": "maximize"},
        "limits": {"max_total_trials": 4},
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(PipelineError) as caught:
        parse_sweep(data, WHERE, "jobs.sweep_step")
    assert "sweep_step" in caught.value.message
    return {i.path: i.message for i in caught.value.issues}


def test_a_minimal_random_sweep_parses_with_its_limits() -> None:
    spec = parse_sweep(sweep(), WHERE, "jobs.sweep_step")
    assert (spec.algorithm, spec.rule, spec.seed) == ("random", "random", None)
    assert (spec.primary_metric, spec.goal, spec.max_total_trials) == ("accuracy", "maximize", 4)
    assert spec.search_space["C"].type == "uniform"
    assert spec.max_concurrent_trials is None and spec.policy is None and spec.notes == []


def test_sampling_algorithm_object_takes_seed_and_rule() -> None:
    algo = {"type": "random", "seed": 7, "rule": "sobol"}
    spec = parse_sweep(sweep(sampling_algorithm=algo), WHERE, "jobs.sweep_step")
    assert (spec.algorithm, spec.seed, spec.rule) == ("random", 7, "sobol")


def test_every_search_space_type_parses() -> None:
    space = {
        "a": {"type": "choice", "values": [1, "two", 3.5, True]},
        "b": {"type": "randint", "upper": 5},
        "c": {"type": "uniform", "min_value": 0, "max_value": 1},
        "d": {"type": "loguniform", "min_value": -3, "max_value": 0},
        "e": {"type": "quniform", "min_value": 0, "max_value": 10, "q": 2},
        "f": {"type": "qloguniform", "min_value": 0, "max_value": 3, "q": 1},
        "g": {"type": "normal", "mu": 0, "sigma": 1},
        "h": {"type": "lognormal", "mu": 0, "sigma": 1},
        "i": {"type": "qnormal", "mu": 0, "sigma": 1, "q": 0.5},
        "j": {"type": "qlognormal", "mu": 0, "sigma": 1, "q": 0.5},
    }
    spec = parse_sweep(sweep(search_space=space), WHERE, "jobs.sweep_step")
    assert [p.type for p in spec.search_space.values()] == [
        "choice", "randint", "uniform", "loguniform", "quniform",
        "qloguniform", "normal", "lognormal", "qnormal", "qlognormal",
    ]  # fmt: skip
    assert spec.search_space["a"].values == (1, "two", 3.5, True)


def test_grid_without_max_total_trials_runs_the_whole_grid_and_says_so() -> None:
    space = {
        "C": {"type": "choice", "values": [0.1, 1.0]},
        "kernel": {"type": "choice", "values": ["linear", "rbf", "poly"]},
    }
    spec = parse_sweep(sweep(sampling_algorithm="grid", search_space=space, limits=None), WHERE, "")
    assert spec.max_total_trials == 6
    assert "whole grid, 6 trials" in spec.notes[0]


def test_random_without_max_total_trials_uses_azures_default_of_1000_with_a_note() -> None:
    spec = parse_sweep(sweep(limits=None), WHERE, "jobs.sweep_step")
    assert spec.max_total_trials == 1000
    assert "default of 1000" in spec.notes[0]


def test_bayesian_with_few_trials_or_a_policy_gets_notes_not_errors() -> None:
    policy = {"type": "median_stopping"}
    spec = parse_sweep(
        sweep(sampling_algorithm="bayesian", early_termination=policy), WHERE, "jobs.s"
    )
    assert any("20 trials per hyperparameter" in n for n in spec.notes)
    assert any("does not support early termination" in n for n in spec.notes)


def test_limits_and_timeouts_are_read_in_seconds() -> None:
    limits = {"max_total_trials": 10, "max_concurrent_trials": 2, "timeout": 60, "trial_timeout": 5}
    spec = parse_sweep(sweep(limits=limits), WHERE, "jobs.s")
    assert (spec.max_concurrent_trials, spec.timeout, spec.trial_timeout) == (2, 60.0, 5.0)


def test_the_three_early_termination_policies_parse_with_their_settings() -> None:
    bandit = {
        "type": "bandit",
        "slack_factor": 0.1,
        "evaluation_interval": 2,
        "delay_evaluation": 4,
    }
    median = {"type": "median_stopping", "evaluation_interval": 1}
    trunc = {
        "type": "truncation_selection",
        "truncation_percentage": 25,
        "exclude_finished_jobs": True,
    }
    assert parse_sweep(sweep(early_termination=bandit), WHERE, "s").policy == BanditPolicy(
        evaluation_interval=2, delay_evaluation=4, slack_factor=0.1
    )
    assert parse_sweep(sweep(early_termination=median), WHERE, "s").policy == (
        MedianStoppingPolicy(evaluation_interval=1)
    )
    assert parse_sweep(sweep(early_termination=trunc), WHERE, "s").policy == (
        TruncationSelectionPolicy(truncation_percentage=25, exclude_finished_jobs=True)
    )


def test_every_problem_is_reported_at_once_with_its_path_and_place() -> None:
    with pytest.raises(PipelineError) as caught:
        parse_sweep(
            {
                "sampling_algorithm": "annealing",
                "search_space": {"C": {"type": "uniform", "min_value": 2, "max_value": 1}},
                "objective": {"primary_metric": "accuracy", "goal": "up"},
                "limits": {"max_total_trials": 0},
            },
            WHERE,
            "jobs.sweep_step",
        )
    error = caught.value
    assert error.message == "sweep 'sweep_step' is invalid: 4 problems"
    paths = [i.path for i in error.issues]
    assert paths == [
        "jobs.sweep_step.sampling_algorithm",
        "jobs.sweep_step.search_space.C.min_value",
        "jobs.sweep_step.objective.goal",
        "jobs.sweep_step.limits.max_total_trials",
    ]
    assert all((i.file, i.line, i.column) == ("pipeline.yml", 12, 5) for i in error.issues)


def test_required_keys_are_named_when_missing() -> None:
    found = problems({})
    assert set(found) == {
        "jobs.sweep_step.sampling_algorithm",
        "jobs.sweep_step.search_space",
        "jobs.sweep_step.objective",
    }


def test_grid_takes_only_choice_and_bayesian_only_choice_uniform_quniform() -> None:
    normal = {"x": {"type": "normal", "mu": 0, "sigma": 1}}
    grid = problems(sweep(sampling_algorithm="grid", search_space=normal))
    assert grid == {"jobs.sweep_step.search_space.x.type": "grid sampling does not support normal"}
    bayes = problems(sweep(sampling_algorithm={"type": "bayesian"}, search_space=normal))
    assert "bayesian sampling does not support normal" in bayes.values()


@pytest.mark.parametrize(
    ("entry", "path", "message"),
    [
        ({"type": "choice", "values": []}, "values", "non-empty list"),
        ({"type": "choice", "values": "abc"}, "values", "non-empty list"),
        ({"type": "choice", "values": [{"a": 1}]}, "values.0", "number, string or boolean"),
        ({"type": "choice", "values": [float("nan")]}, "values.0", "finite"),
        ({"type": "randint", "upper": 0}, "upper", "at least 1"),
        ({"type": "randint", "upper": 2.5}, "upper", "whole number"),
        ({"type": "uniform", "min_value": "0.1", "max_value": 1}, "min_value", "a number"),
        ({"type": "uniform", "min_value": 0, "max_value": float("inf")}, "max_value", "finite"),
        ({"type": "uniform", "min_value": True, "max_value": 1}, "min_value", "boolean"),
        ({"type": "uniform", "min_value": 0, "max_value": 1e308}, "max_value", "at most 1e300"),
        ({"type": "uniform", "min_value": 5, "max_value": 1}, "min_value", "greater than"),
        ({"type": "loguniform", "min_value": 0, "max_value": 1000}, "max_value", "overflows"),
        ({"type": "quniform", "min_value": 0, "max_value": 1, "q": -1}, "q", "greater than 0"),
        ({"type": "quniform", "min_value": 0, "max_value": 1e10, "q": 1e-9}, "q", "too small"),
        ({"type": "normal", "mu": 0, "sigma": 0}, "sigma", "greater than 0"),
        ({"type": "qnormal", "mu": 0, "sigma": 1}, "q", "is required for qnormal"),
        ({"type": "normal", "mu": 0, "sigma": 1, "q": 1}, "q", "unknown key"),
        ({"type": "gaussian", "mu": 0}, "type", "unknown search space type"),
        ("uniform", "", "must be a mapping"),
    ],
)
def test_hostile_search_space_entries_get_located_errors(
    entry: Any, path: str, message: str
) -> None:
    found = problems(sweep(search_space={"C": entry}))
    where = "jobs.sweep_step.search_space.C" + (f".{path}" if path else "")
    assert message in found[where], found


@pytest.mark.parametrize(
    ("overrides", "path", "message"),
    [
        (
            {"objective": {"primary_metric": "", "goal": "maximize"}},
            "objective.primary_metric",
            "metric name",
        ),
        (
            {"objective": {"primary_metric": "acc", "goal": "max"}},
            "objective.goal",
            "maximize or minimize",
        ),
        ({"limits": {"max_total_trials": 1001}}, "limits.max_total_trials", "from 1 to 1000"),
        ({"limits": {"max_concurrent_trials": 0}}, "limits.max_concurrent_trials", "from 1 to"),
        ({"limits": {"timeout": 1.5}}, "limits.timeout", "whole number"),
        ({"limits": {"trial_timeout": 10**30}}, "limits.trial_timeout", "from 1 to"),
        ({"limits": {"max_trials": 3}}, "limits.max_trials", "unknown key"),
        (
            {"sampling_algorithm": {"type": "random", "rule": "halton"}},
            "sampling_algorithm.rule",
            "unknown rule",
        ),
        (
            {"sampling_algorithm": {"type": "random", "seed": "x"}},
            "sampling_algorithm.seed",
            "whole number",
        ),
        (
            {"sampling_algorithm": {"type": "grid", "seed": 1}},
            "sampling_algorithm.seed",
            "unknown key",
        ),
        ({"early_termination": {"type": "bandit"}}, "early_termination", "exactly one of"),
        (
            {"early_termination": {"type": "bandit", "slack_factor": 0.1, "slack_amount": 1}},
            "early_termination",
            "exactly one of",
        ),
        (
            {"early_termination": {"type": "bandit", "slack_factor": float("nan")}},
            "early_termination.slack_factor",
            "finite",
        ),
        (
            {"early_termination": {"type": "truncation_selection"}},
            "early_termination.truncation_percentage",
            "required",
        ),
        (
            {"early_termination": {"type": "truncation_selection", "truncation_percentage": 100}},
            "early_termination.truncation_percentage",
            "from 1 to 99",
        ),
        (
            {
                "early_termination": {
                    "type": "truncation_selection",
                    "truncation_percentage": 5,
                    "exclude_finished_jobs": "yes",
                }
            },
            "early_termination.exclude_finished_jobs",
            "true or false",
        ),
        (
            {"early_termination": {"type": "median_stopping", "evaluation_interval": -1}},
            "early_termination.evaluation_interval",
            "from 0 to",
        ),
        (
            {"early_termination": {"type": "hyperband"}},
            "early_termination.type",
            "unknown early termination",
        ),
    ],
)
def test_hostile_settings_get_located_errors(overrides: dict, path: str, message: str) -> None:
    found = problems(sweep(**overrides))
    assert message in found[f"jobs.sweep_step.{path}"], found


def test_evaluation_interval_zero_means_every_log() -> None:
    policy = {"type": "median_stopping", "evaluation_interval": 0}
    spec = parse_sweep(sweep(early_termination=policy), WHERE, "s")
    assert spec.policy is not None
    assert [n for n in range(1, 5) if spec.policy.due(n)] == [1, 2, 3, 4]
