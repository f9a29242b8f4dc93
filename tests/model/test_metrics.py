"""Metrics are evaluated correctly: checked against values worked out by hand."""

from __future__ import annotations

import pytest

from diagnosis.evaluate import classification_metrics

# truth 0 0 1 1, scores .1 .6 .4 .9 -> predicted 0 1 0 1 at the 0.5 cutoff:
# one true positive, one false positive, one false negative, one true negative.
# ROC AUC: of the 4 (positive, negative) pairs, 3 rank the positive higher -> 0.75.
TRUTH = [0, 0, 1, 1]
SCORES = [0.1, 0.6, 0.4, 0.9]


def test_metrics_match_the_hand_computed_values():
    assert classification_metrics(TRUTH, SCORES) == pytest.approx(
        {"accuracy": 0.5, "precision": 0.5, "recall": 0.5, "f1": 0.5, "roc_auc": 0.75}
    )


def test_a_perfect_ranking_scores_one():
    assert classification_metrics([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.7]) == pytest.approx(
        {"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0, "roc_auc": 1.0}
    )


def test_no_positive_predictions_give_zero_precision_not_an_error():
    result = classification_metrics([0, 1], [0.1, 0.4])
    assert result["precision"] == 0.0
    assert result["recall"] == 0.0
