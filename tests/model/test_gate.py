"""The gate's rule: meet the absolute bar and every guardrail, then beat the champion by the
minimum improvement."""

from __future__ import annotations

import pytest

from diagnosis.evaluate import Guardrail, decide, parse_guardrails
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


# --- guardrails: bounds every model must respect; roc_auc decides only among models within them

RECALL = {"recall": Guardrail("recall", min=0.95)}


def guarded(challenger: dict, champion: dict | None, guardrails=RECALL, min_improvement=0.001):
    return decide(
        challenger,
        champion,
        metric="roc_auc",
        direction="maximize",
        threshold=0.9,
        min_improvement=min_improvement,
        guardrails=guardrails,
    )


def test_a_challenger_that_improves_roc_auc_but_breaks_a_guardrail_is_not_promoted():
    decision = guarded({"roc_auc": 0.9987, "recall": 0.943}, {"roc_auc": 0.9983, "recall": 0.962})
    assert not decision.promoted and not decision.registerable
    assert decision.broken_guardrails == ("recall",)
    assert "recall 0.9430 is below the guardrail's minimum 0.9500" in decision.reason


def test_a_first_model_that_breaks_a_guardrail_is_not_registerable_either():
    decision = guarded({"roc_auc": 0.997, "recall": 0.68}, None)
    assert not decision.registerable and "guardrail" in decision.reason


def test_a_guardrail_bound_is_inclusive():
    assert guarded({"roc_auc": 0.99, "recall": 0.95}, None).promoted


def test_a_champion_that_breaks_a_guardrail_gives_way_to_one_that_passes_them_all():
    """The old reference default (C=0.001: recall 0.68, roc_auc 0.9971) against the new one."""
    decision = guarded({"roc_auc": 0.9965, "recall": 0.962}, {"roc_auc": 0.9971, "recall": 0.679})
    assert decision.promoted
    assert "the champion breaks a guardrail (recall 0.6790" in decision.reason


def test_among_models_within_the_guardrails_the_primary_metric_decides():
    champion = {"roc_auc": 0.9983, "recall": 0.962}
    assert not guarded({"roc_auc": 0.9985, "recall": 0.98}, champion).promoted  # +0.0002
    assert guarded({"roc_auc": 0.9995, "recall": 0.96}, champion).promoted


def test_a_maximum_guardrail_and_an_unmeasured_metric_both_break():
    ceiling = {"false_positive_rate": Guardrail("false_positive_rate", max=0.1)}
    decision = guarded({"roc_auc": 0.99, "false_positive_rate": 0.2}, None, ceiling)
    assert "above the guardrail's maximum 0.1000" in decision.reason
    missing = guarded({"roc_auc": 0.99}, None)
    assert "recall was not measured" in missing.reason


def test_the_guardrails_input_mlops_writes_is_read_back_by_the_step():
    """mlops.gate writes the pipeline input from mlops.yaml; the evaluate step parses it: one
    word, no shell metacharacters (Azure ML pastes inputs into the command unquoted)."""
    from mlops.config.project import Guardrail as Configured
    from mlops.gate import guardrails_text

    text = guardrails_text({"recall": Configured(min=0.95), "fpr": Configured(min=0, max=0.1)})
    assert text == "fpr:min:0.0,fpr:max:0.1,recall:min:0.95"
    assert not set(text) & set(" ;&|<>$`'\"(){}*?")
    assert parse_guardrails(text) == {
        "fpr": Guardrail("fpr", 0.0, 0.1),
        "recall": Guardrail("recall", min=0.95),
    }
    assert guardrails_text({}) == "none" and parse_guardrails("none") == {}


def test_a_malformed_guardrails_input_is_refused():
    with pytest.raises(ValueError, match="METRIC:min"):
        parse_guardrails("recall>=0.95")


def test_the_register_step_decides_again_with_the_guardrails_of_the_report():
    from diagnosis.evaluate import guardrail_checks
    from diagnosis.register import recheck

    class Version:
        name, version = "diagnosis", "7"

    challenger = {"roc_auc": 0.9987, "recall": 0.96}
    stale = {
        **report(True),
        "direction": "maximize",
        "threshold": 0.9,
        "min_improvement": 0.001,
        "challenger": {"metrics": challenger, "dataset": {"name": "d", "version": "1"}},
        "guardrails": {"challenger": guardrail_checks(challenger, RECALL)},
        "champion": None,
    }
    moved = recheck(stale, Version(), None)  # a champion appeared, no holdout given
    assert not moved["promoted"]
    again = recheck({**stale, "champion": {"version": "7"}}, None, None)  # it went away
    assert again["promoted"] and again["broken_guardrails"] == []
