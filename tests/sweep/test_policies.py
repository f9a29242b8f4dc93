"""Early termination policies decide from metric histories which running trials to stop."""

from __future__ import annotations

import math

from mlops.pipeline.sweep_policies import (
    BanditPolicy,
    EarlyTermination,
    MedianStoppingPolicy,
    TruncationSelectionPolicy,
    best,
    objective,
)


def test_bandit_stops_a_trial_below_best_over_one_plus_slack_factor() -> None:
    policy = EarlyTermination(BanditPolicy(slack_factor=0.1), "maximize")
    histories = {0: [0.90, 0.92], 1: [0.85, 0.80]}
    # interval 1: 0.85 >= 0.90 / 1.1 = 0.818, kept; interval 2: 0.80 < 0.92 / 1.1 = 0.836
    stops = policy.to_stop(histories, running={1})
    assert list(stops) == [1]
    assert "interval 2" in stops[1] and "trial 0" in stops[1]


def test_bandit_with_slack_amount_mirrors_for_minimize() -> None:
    policy = EarlyTermination(BanditPolicy(slack_amount=0.5), "minimize")
    assert policy.to_stop({0: [1.0], 1: [1.4]}, running={1}) == {}  # 1.4 <= 1.0 + 0.5
    policy = EarlyTermination(BanditPolicy(slack_amount=0.5), "minimize")
    assert list(policy.to_stop({0: [1.0], 1: [1.6]}, running={1})) == [1]


def test_policies_fire_only_at_multiples_of_the_interval_after_the_delay() -> None:
    bandit = BanditPolicy(slack_factor=0.0, evaluation_interval=2, delay_evaluation=5)
    assert [n for n in range(1, 11) if bandit.due(n)] == [6, 8, 10]
    policy = EarlyTermination(bandit, "maximize")
    behind = {0: [1.0] * 10, 1: [0.1] * 5}
    assert policy.to_stop(behind, running={1}) == {}  # 5 logs: nothing due yet
    behind[1].append(0.1)
    assert "interval 6" in policy.to_stop(behind, running={1})[1]


def test_each_trial_is_evaluated_once_per_interval() -> None:
    policy = EarlyTermination(BanditPolicy(slack_factor=0.1), "maximize")
    # trial 1 alone at interval 1: it is the best there, kept
    assert policy.to_stop({1: [0.5]}, running={1}) == {}
    # a better trial reaches interval 1 later: interval 1 is not judged again for trial 1
    assert policy.to_stop({0: [0.9], 1: [0.5]}, running={1}) == {}
    # at interval 2 trial 1 is compared with trial 0's second value
    assert list(policy.to_stop({0: [0.9, 0.9], 1: [0.5, 0.5]}, running={1})) == [1]


def test_finished_trials_are_never_stopped_but_still_set_the_bar() -> None:
    policy = EarlyTermination(BanditPolicy(slack_factor=0.1), "maximize")
    histories = {0: [0.2], 1: [0.9], 2: [0.1]}
    assert list(policy.to_stop(histories, running={0})) == [0]


def test_median_stopping_compares_best_so_far_with_others_running_averages() -> None:
    policy = EarlyTermination(MedianStoppingPolicy(), "maximize")
    histories = {
        0: [0.5, 0.7, 0.9],  # running averages 0.5, 0.6, 0.7
        1: [0.6, 0.6, 0.6],  # 0.6, 0.6, 0.6
        2: [0.1, 0.2, 0.3],  # interval 1: best 0.1 < median 0.6 of 0.5, 0.6, 0.6
        3: [0.6, 0.5, 0.5],  # its average falls below the median, its best 0.6 does not
    }
    stops = policy.to_stop(histories, running={2, 3})
    assert list(stops) == [2]
    assert "interval 1" in stops[2] and "median" in stops[2]


def test_median_stopping_needs_another_trial_at_the_same_interval() -> None:
    policy = EarlyTermination(MedianStoppingPolicy(), "minimize")
    assert policy.to_stop({0: [5.0, 5.0]}, running={0}) == {}


def test_truncation_stops_the_lowest_percentage_at_an_interval() -> None:
    policy = EarlyTermination(TruncationSelectionPolicy(truncation_percentage=25), "maximize")
    histories = {0: [0.9], 1: [0.8], 2: [0.7], 3: [0.2]}
    # a quarter of four trials is one: the lowest, trial 3
    assert list(policy.to_stop(histories, running={0, 1, 2, 3})) == [3]


def test_truncation_with_too_few_trials_to_cut_stops_none() -> None:
    policy = EarlyTermination(TruncationSelectionPolicy(truncation_percentage=20), "maximize")
    assert policy.to_stop({0: [0.9], 1: [0.1]}, running={0, 1}) == {}  # 20% of 2 is 0


def test_truncation_excluding_finished_jobs_ranks_only_running_ones() -> None:
    histories = {0: [0.1], 1: [0.1], 2: [0.5], 3: [0.4]}  # 0 and 1 have finished
    ranked_all = TruncationSelectionPolicy(truncation_percentage=50)
    assert EarlyTermination(ranked_all, "maximize").to_stop(histories, running={2, 3}) == {}
    running_only = TruncationSelectionPolicy(truncation_percentage=50, exclude_finished_jobs=True)
    stops = EarlyTermination(running_only, "maximize").to_stop(histories, running={2, 3})
    assert list(stops) == [3]


def test_ties_at_the_bottom_are_not_truncated() -> None:
    policy = EarlyTermination(TruncationSelectionPolicy(truncation_percentage=50), "minimize")
    assert policy.to_stop({0: [1.0], 1: [1.0]}, running={0, 1}) == {}


def test_a_nan_metric_ranks_last() -> None:
    policy = EarlyTermination(BanditPolicy(slack_factor=0.5), "maximize")
    assert list(policy.to_stop({0: [0.9], 1: [math.nan]}, running={1})) == [1]


def test_the_objective_is_the_last_value_logged() -> None:
    assert objective([0.5, 0.95, 0.7]) == 0.7
    assert objective([]) is None


def test_best_picks_by_goal_ignoring_missing_and_non_finite_values() -> None:
    scores = {0: 0.7, 1: None, 2: 0.9, 3: math.nan, 4: math.inf}
    assert best(scores, "maximize") == 2
    assert best(scores, "minimize") == 0
    assert best({0: None}, "maximize") is None
    assert best({0: 0.5, 1: 0.5}, "maximize") == 0  # a tie goes to the earlier trial
