"""The gate's rule: meet the absolute bar, then beat the champion by the minimum improvement."""

from __future__ import annotations

from diagnosis.evaluate import decide
from diagnosis.register import should_register, version_tags


def gate(challenger, champion, *, direction="maximize", threshold=0.9, min_improvement=0.01):
    return decide(
        challenger,
        champion,
        metric="roc_auc",
        direction=direction,
        threshold=threshold,
        min_improvement=min_improvement,
    )


def test_the_first_model_that_meets_the_bar_is_promoted():
    assert gate(0.95, None).promoted


def test_a_model_below_the_bar_is_never_registerable():
    decision = gate(0.85, None)
    assert not decision.promoted and not decision.registerable
    assert "below the minimum 0.9000" in decision.reason


def test_an_equal_model_is_not_promoted_but_is_a_successful_outcome():
    decision = gate(0.95, 0.95)
    assert not decision.promoted and decision.registerable
    assert "improvement +0.0000" in decision.reason


def test_an_improvement_below_the_minimum_is_not_enough():
    assert not gate(0.955, 0.95).promoted


def test_an_improvement_of_at_least_the_minimum_is_promoted():
    assert gate(0.97, 0.95).promoted


def test_for_a_metric_to_minimize_lower_is_better_and_the_bar_is_a_ceiling():
    assert gate(0.10, 0.20, direction="minimize", threshold=0.3).promoted
    assert not gate(0.25, 0.20, direction="minimize", threshold=0.3).promoted
    ceiling = gate(0.35, None, direction="minimize", threshold=0.3)
    assert not ceiling.registerable and "above the maximum" in ceiling.reason


def report(promoted: bool, registerable: bool = True) -> dict:
    return {
        "decision": "promoted" if promoted else "not promoted",
        "promoted": promoted,
        "registerable": registerable,
        "reason": "because",
        "primary_metric": "roc_auc",
        "challenger": {
            "metrics": {"roc_auc": 0.97},
            "dataset": {"name": "breast-cancer", "version": "abc123"},
        },
    }


def test_force_registers_a_model_that_was_not_promoted_and_says_so():
    assert should_register(report(False), force=False)[0] is False
    assert should_register(report(False), force=True)[0] is True
    assert version_tags(report(False), {}, forced=True)["forced"] == "true"


def test_force_never_registers_a_model_below_the_bar():
    register, message = should_register(report(False, registerable=False), force=True)
    assert not register and "never registered" in message


def test_version_tags_carry_lineage_dataset_metric_and_decision():
    lineage = {"git_commit": "c0ffee", "build_id": "42", "pipeline_run_id": "run-1"}
    tags = version_tags(report(True), lineage, forced=False)
    assert tags["git_commit"] == "c0ffee"
    assert tags["build_id"] == "42"
    assert tags["dataset_name"] == "breast-cancer"
    assert tags["dataset_version"] == "abc123"
    assert tags["roc_auc"] == "0.970000"
    assert tags["gate_decision"] == "promoted"
