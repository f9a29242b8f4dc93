"""The signals' metrics behave as Azure ML's: distances fire above their threshold,
p-values below it, and the local agent writes only what the Collector sends."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlops.backends.local._front_end import CollectorAgent, collector_record
from mlops.monitoring.signals import categorical_drift, crossed, numerical_drift

RNG = np.random.default_rng(1)
SAME = RNG.normal(0, 1, 2000)
ALSO_SAME = RNG.normal(0, 1, 2000)
MOVED = RNG.normal(1.5, 1, 2000)


@pytest.mark.parametrize(
    "metric",
    [
        "normalized_wasserstein_distance",
        "jensen_shannon_distance",
        "population_stability_index",
        "two_sample_kolmogorov_smirnov_test",
    ],
)
def test_each_numerical_metric_tells_a_moved_sample_from_a_fresh_one(metric: str) -> None:
    threshold = 0.05 if metric == "two_sample_kolmogorov_smirnov_test" else 0.1

    calm = numerical_drift(metric, SAME, ALSO_SAME)
    moved = numerical_drift(metric, SAME, MOVED)

    assert not crossed(metric, calm, threshold)
    assert crossed(metric, moved, threshold)


def test_normalized_wasserstein_is_in_units_of_the_baselines_spread() -> None:
    assert numerical_drift("normalized_wasserstein_distance", SAME, SAME + 2.0) == (
        pytest.approx(2.0 / np.std(SAME))
    )


def test_class_labels_read_as_floats_match_integer_predictions() -> None:
    labels = [1.0, 0.0] * 50
    predictions = [1, 0] * 50

    assert categorical_drift("jensen_shannon_distance", labels, predictions) == 0.0
    assert categorical_drift("jensen_shannon_distance", labels, [1] * 100) > 0.5


def test_the_agent_writes_a_record_per_post_in_the_hourly_layout(tmp_path) -> None:
    agent = CollectorAgent(str(tmp_path), "local:demo-online/demo-1", "host-1")
    headers = {
        "ce-type": "azureml.inference.model_inputs",
        "ce-time": "1764460800",  # 2025-11-30 00:00:00 UTC
        "trace-id": "t-1",
        "ce-x-request-id": "r-1",
        "ce-collect-data-type": "pandas.DataFrame",
        "ce-agent": "azureml-ai-monitoring/1.0.0",
    }

    agent.write(headers, b'[{"x": 1.0}, {"x": 2.0}]')

    written = tmp_path / "model_inputs" / "2025" / "11" / "30" / "00" / "host-1.jsonl"
    record = json.loads(written.read_text())
    assert record["data"] == [{"x": 1.0}, {"x": 2.0}]
    assert record["time"] == "2025-11-30T00:00:00Z"
    assert record["correlationid"] == record["xrequestid"] == "r-1"
    assert record["source"] == "local:demo-online/demo-1"


@pytest.mark.parametrize(
    "event", ["azureml.inference.../../etc", "other.event", "azureml.inference."]
)
def test_the_agent_refuses_events_that_are_not_a_collection(event: str) -> None:
    with pytest.raises(ValueError, match="not a collector event"):
        collector_record({"ce-type": event}, b"[]", "local")
