"""The monitoring: section of mlops.yaml: its defaults are Azure ML's, and bad values are
refused with exit 2, naming the field."""

from __future__ import annotations

import pytest

from mlops.config.monitoring import Monitoring
from tests.conftest import run_cli

BASE = "project:\n  name: demo\n"


def test_defaults_are_azure_ml_defaults_and_collection_is_off() -> None:
    monitoring = Monitoring()

    assert monitoring.collection is False
    assert monitoring.sampling_rate == 1.0
    assert monitoring.signals.data_drift.metric == "normalized_wasserstein_distance"
    assert monitoring.signals.data_drift.threshold == 0.1
    assert monitoring.signals.prediction_drift.metric == "jensen_shannon_distance"
    assert monitoring.signals.data_quality.null_value_rate == 0.0


@pytest.mark.parametrize(
    ("section", "field", "words"),
    [
        ("monitoring:\n  schedule: every day\n", "monitoring.schedule", "cron"),
        ("monitoring:\n  alert_emails: [ml-team]\n", "monitoring.alert_emails", "email"),
        ("monitoring:\n  sampling_rate: 1.5\n", "monitoring.sampling_rate", "1"),
        (
            "monitoring:\n  signals:\n    data_drift:\n      metric: chi\n",
            "monitoring.signals.data_drift.metric",
            "normalized_wasserstein_distance",
        ),
        (
            "monitoring:\n  signals:\n    data_drift: {enabled: false}\n"
            "    prediction_drift: {enabled: false}\n    data_quality: {enabled: false}\n",
            "monitoring",
            "every signal is disabled",
        ),
    ],
)
def test_bad_monitoring_settings_exit_2_naming_the_field(
    project, section: str, field: str, words: str
) -> None:
    project(BASE + section)

    result = run_cli("config", "validate")

    assert result.exit_code == 2
    assert field in result.stderr
    assert words in result.stderr
