"""Each Azure environment's deployment gets a monitor schedule that azure-ai-ml loads as a
MonitorSchedule, with the signals, thresholds, baseline and recipients of mlops.yaml."""

from __future__ import annotations

import io

import pytest

from mlops.errors import BadInputError, ConfigError
from mlops.monitoring.schedule import baseline_asset, model_features, monitor_schedule
from mlops.serialize import dump_yaml

MONITORING = """\
monitoring:
  collection: true
  schedule: "0 6 * * 1"
  alert_emails: [ml-team@contoso.com]
  signals:
    data_drift:
      threshold: 0.2
      features:
        mean_radius: {metric: population_stability_index, threshold: 0.25}
    prediction_drift:
      target_column: malignant
    data_quality:
      null_value_rate: 0.01
"""
TAGS = {"dataset_name": "breast-cancer", "dataset_version": "a1b2c3d4e5f60718"}


def _load(spec: dict):
    from mlops.backends.azure.aml import quiet

    with quiet():
        from azure.ai.ml.entities._load_functions import load_schedule

        return load_schedule(io.StringIO(dump_yaml(spec)))


@pytest.mark.parametrize("env", ["dev", "test", "prod"])
def test_every_azure_environment_gets_a_schedule_azure_ai_ml_loads(reference_config, env) -> None:
    loaded = reference_config(MONITORING)
    config = loaded.config
    baseline = baseline_asset(config, TAGS, "diagnosis:3")

    spec = monitor_schedule(
        config,
        env,
        deployment="blue",
        baseline=baseline,
        features=model_features(config, loaded.root),
    )
    schedule = _load(spec)

    assert type(schedule).__name__ == "MonitorSchedule"
    endpoint = config.environment_names(env).online_endpoint
    assert schedule.create_monitor.monitoring_target.endpoint_deployment_id == (
        f"azureml:{endpoint}:blue"
    )
    assert schedule.trigger.expression == "0 6 * * 1"
    assert schedule.create_monitor.alert_notification.emails == ["ml-team@contoso.com"]
    signals = schedule.create_monitor.monitoring_signals
    assert sorted(signals) == [
        "data-drift",
        "data-drift-mean-radius",
        "data-quality",
        "prediction-drift",
    ]
    for signal in signals.values():
        # the SDK keeps the asset as NAME:VERSION once loaded
        assert signal.reference_data.input_data.path == "breast-cancer:1"
        assert signal.reference_data.data_context == "training"
    assert "mean_radius" not in signals["data-drift"].features
    assert len(signals["data-drift"].features) == 29
    assert signals["data-drift-mean-radius"].features == ["mean_radius"]
    own = signals["data-drift-mean-radius"].metric_thresholds.numerical
    assert own.population_stability_index == 0.25
    shared = signals["data-drift"].metric_thresholds.numerical
    assert shared.normalized_wasserstein_distance == 0.2
    assert signals["prediction-drift"].reference_data.data_column_names == {
        "target_column": "malignant"
    }
    # the request body the SDK would send: every signal notifies the recipients
    body = schedule._to_rest_object().as_dict()["properties"]["action"]["monitorDefinition"]
    assert {s["mode"] for s in body["signals"].values()} == {"Enabled"}
    assert body["alertNotificationSetting"]["emailNotificationSetting"]["emails"] == [
        "ml-team@contoso.com"
    ]


def test_without_per_feature_settings_drift_covers_all_features(reference_config) -> None:
    loaded = reference_config("monitoring:\n  collection: true\n")

    spec = monitor_schedule(
        loaded.config, "dev", deployment="green", baseline="azureml:breast-cancer:1"
    )
    schedule = _load(spec)

    signals = schedule.create_monitor.monitoring_signals
    assert sorted(signals) == ["data-drift", "data-quality"]  # no target column: no prediction
    assert spec["create_monitor"]["monitoring_signals"]["data-drift"]["features"] == (
        "all_features"
    )
    assert schedule.create_monitor.alert_notification is None


def test_the_exact_asset_recorded_in_lineage_wins(reference_config) -> None:
    config = reference_config().config

    tags = {**TAGS, "dataset_asset": "azureml:breast-cancer:7"}

    assert baseline_asset(config, tags, "diagnosis:3") == "azureml:breast-cancer:7"


def test_a_model_whose_dataset_mlops_yaml_does_not_know_is_refused(reference_config) -> None:
    config = reference_config().config

    with pytest.raises(BadInputError, match="trained on") as caught:
        baseline_asset(config, {"dataset_name": "churn"}, "diagnosis:3")
    assert "data.churn.azure_path" in str(caught.value.hint)


def test_a_per_feature_threshold_for_a_feature_the_model_lacks_is_refused(
    reference_config,
) -> None:
    loaded = reference_config(
        "monitoring:\n  signals:\n    data_drift:\n      features:\n"
        "        tumour_size: {threshold: 0.3}\n"
    )

    with pytest.raises(ConfigError, match="tumour_size"):
        monitor_schedule(
            loaded.config,
            "dev",
            deployment="blue",
            baseline="azureml:breast-cancer:1",
            features=model_features(loaded.config, loaded.root),
        )
