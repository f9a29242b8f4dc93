"""The retraining rule, as data: why CT trains, or why it does not."""

from __future__ import annotations

import pytest

from mlops.errors import BadInputError
from mlops.services.retrain import (
    ChampionEvidence,
    DataEvidence,
    DriftEvidence,
    decide,
    trigger_tags,
)

CHECK = "Daily check for new data and drift"
WEEKLY = "Weekly retraining on current data"
CHAMPION = ChampionEvidence("diagnosis", "3", created_ms=2_000, dataset_version="abc")
SAME_DATA = DataEvidence("breast-cancer", "1", created_ms=1_000)
NEW_DATA = DataEvidence("breast-cancer", "2", created_ms=3_000)


@pytest.mark.parametrize("reason", ["IndividualCI", "BatchedCI", "Manual"])
def test_a_push_or_a_run_queued_by_hand_always_trains(reason: str) -> None:
    decision = decide(reason, "", SAME_DATA, CHAMPION, None)
    assert (decision.retrain, decision.trigger) == (True, "push")


def test_the_weekly_schedule_always_trains_and_the_daily_check_only_with_a_reason() -> None:
    assert decide("Schedule", WEEKLY, SAME_DATA, CHAMPION, None).trigger == "schedule"
    quiet = decide("Schedule", CHECK, SAME_DATA, CHAMPION, None)
    assert not quiet.retrain and quiet.trigger is None
    assert "trained on the newest data" in quiet.reason


def test_a_data_version_registered_after_the_champion_trains() -> None:
    decision = decide("Schedule", CHECK, NEW_DATA, CHAMPION, None)
    assert (decision.retrain, decision.trigger) == (True, "data")
    assert "breast-cancer version 2" in decision.reason


def test_the_version_the_champion_was_trained_on_never_counts_as_new() -> None:
    """A fresh checkout touches the data file (a newer time) without changing its bytes."""
    touched = DataEvidence("breast-cancer", "abc", created_ms=9_000)
    assert not decide("Schedule", CHECK, touched, CHAMPION, None).retrain


def test_drift_after_the_champion_trains_and_drift_before_it_does_not() -> None:
    after = DriftEvidence("report.json", True, created_ms=5_000, signals=("mean_radius",))
    before = DriftEvidence("report.json", True, created_ms=1_500)
    calm = DriftEvidence("report.json", False, created_ms=5_000)

    decision = decide("Schedule", CHECK, SAME_DATA, CHAMPION, after)
    assert (decision.trigger, "mean_radius" in decision.reason) == ("drift", True)
    assert not decide("Schedule", CHECK, SAME_DATA, CHAMPION, before).retrain
    assert not decide("Schedule", CHECK, SAME_DATA, CHAMPION, calm).retrain


def test_new_data_wins_over_drift_because_it_changes_what_is_trained_on() -> None:
    drift = DriftEvidence("report.json", True, created_ms=5_000)
    assert decide("Schedule", CHECK, NEW_DATA, CHAMPION, drift).trigger == "data"


def test_without_a_champion_the_check_trains_on_the_data_there_is() -> None:
    assert decide("", "", SAME_DATA, None, None).trigger == "data"
    assert not decide("", "", None, None, None).retrain


def test_the_trigger_tag_comes_from_ct_and_is_one_of_four() -> None:
    assert trigger_tags({"MLOPS_TRIGGER": "drift"}) == {"trigger": "drift"}
    assert trigger_tags({}) == {}
    with pytest.raises(BadInputError, match="MLOPS_TRIGGER=nightly"):
        trigger_tags({"MLOPS_TRIGGER": "nightly"})
