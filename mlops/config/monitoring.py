"""The `monitoring:` section: production data collection, drift signals, schedule, alerts.

One description serves both places: Azure ML monitor schedules rendered per Azure environment
and `mlops monitor --env local`, which computes the same signals over what the local endpoint
collected. Metric names and defaults are Azure ML's own, so a threshold means the same thing
in both: https://learn.microsoft.com/azure/machine-learning/how-to-monitor-model-performance
and https://learn.microsoft.com/azure/machine-learning/reference-yaml-monitor
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from mlops.config._types import Section

# The drift metrics Azure ML model monitoring computes, per feature type (azure-ai-ml's
# MonitorMetricName / reference-yaml-monitor "metric_thresholds"): numerical features take
# any of these; categorical ones (predicted classes) the three below.
NumericalDriftMetric = Literal[
    "normalized_wasserstein_distance",
    "jensen_shannon_distance",
    "population_stability_index",
    "two_sample_kolmogorov_smirnov_test",
]
CategoricalDriftMetric = Literal[
    "jensen_shannon_distance", "population_stability_index", "pearsons_chi_squared_test"
]

_CRON = re.compile(r"\S+( \S+){4}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _cron(value: str) -> str:
    if not _CRON.fullmatch(value.strip()):
        raise PydanticCustomError(
            "cron",
            "expected a 5-field cron expression (minute hour day month weekday), for example"
            " '15 3 * * *'; got '{value}'",
            {"value": value},
        )
    return value.strip()


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise PydanticCustomError(
            "email",
            "expected an email address, for example 'ml-team@contoso.com'; got '{value}'",
            {"value": value},
        )
    return value


Cron = Annotated[str, AfterValidator(_cron)]
Email = Annotated[str, AfterValidator(_email)]
Threshold = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class FeatureDrift(Section):
    """One feature's own drift metric and threshold, instead of the signal's."""

    metric: NumericalDriftMetric | None = Field(
        None, description="Drift metric for this feature; default: the signal's metric."
    )
    threshold: Threshold | None = Field(
        None, description="Drift above this value fires; default: the signal's threshold."
    )


class DataDrift(Section):
    """Input drift per feature: production inputs against the training data."""

    enabled: bool = True
    # Azure ML's defaults for numerical features: normalized Wasserstein distance, 0.1
    # (azure-ai-ml entities/_monitoring/thresholds.py; how-to-monitor-model-performance)
    metric: NumericalDriftMetric = Field(
        "normalized_wasserstein_distance",
        description="Drift metric of every feature without its own (Azure ML's names).",
    )
    threshold: Threshold = Field(0.1, description="Drift above this value fires.")
    features: dict[str, FeatureDrift] = Field(
        default={},
        description="Per-feature metric or threshold; features not listed use the signal's.",
    )


class PredictionDrift(Section):
    """Output drift: predicted classes in production against the training labels."""

    enabled: bool = True
    # Azure ML's default for categorical columns: Jensen-Shannon distance, 0.1 (ibid.)
    metric: CategoricalDriftMetric = Field(
        "jensen_shannon_distance", description="Drift metric of the predicted class."
    )
    threshold: Threshold = Field(0.1, description="Drift above this value fires.")
    column: str = Field(
        "predictions", min_length=1, description="The model output column holding the class."
    )
    target_column: str | None = Field(
        None,
        min_length=1,
        description="The training data's label column the predictions are compared with;"
        " without it prediction drift is not computed (Azure ML needs it too).",
    )


class DataQuality(Section):
    """Rates of bad values in production inputs; a rate above its threshold fires.

    Azure ML's default thresholds are all 0 (azure-ai-ml thresholds.py)."""

    enabled: bool = True
    null_value_rate: Threshold = Field(0.0, le=1, description="Share of missing values.")
    data_type_error_rate: Threshold = Field(
        0.0, le=1, description="Share of values of another type than in the training data."
    )
    out_of_bounds_rate: Threshold = Field(
        0.0, le=1, description="Share of values outside the training data's range."
    )


class Signals(Section):
    data_drift: DataDrift = Field(default=DataDrift())
    prediction_drift: PredictionDrift = Field(default=PredictionDrift())
    data_quality: DataQuality = Field(default=DataQuality())


class MonitorCompute(Section):
    """The serverless Spark compute Azure ML runs a monitor on."""

    # "instance_type: standard_e4s_v3 ... standard_e64s_v3" and runtime 3.4 (the examples'
    # value): https://learn.microsoft.com/azure/machine-learning/reference-yaml-monitor
    instance_type: Literal[
        "standard_e4s_v3", "standard_e8s_v3", "standard_e16s_v3", "standard_e32s_v3",
        "standard_e64s_v3",
    ] = "standard_e4s_v3"  # fmt: skip
    runtime_version: str = Field("3.4", min_length=1, description="Spark runtime version.")


class Monitoring(Section):
    """Watching what the deployed model sees: collection, signals, schedule, alerts."""

    collection: bool = Field(
        False,
        description="Collect model inputs and outputs: Azure ML's data collector on online"
        " deployments (to the workspace's blob storage), files under the state dir locally.",
    )
    # sampling_rate: 0.0 to 1.0 of requests collected, copied to each collection by the SDK
    # https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data
    sampling_rate: float = Field(
        1.0, gt=0, le=1, description="Share of requests collected (1.0: every request)."
    )
    signals: Signals = Field(default=Signals())
    schedule: Cron = Field(
        "15 3 * * *", description="When Azure ML computes the signals (cron, UTC)."
    )
    alert_emails: list[Email] = Field(
        default=[], description="Who Azure ML emails when a signal crosses its threshold."
    )
    compute: MonitorCompute = Field(default=MonitorCompute())

    @model_validator(mode="after")
    def _something_to_watch(self) -> Monitoring:
        signals = self.signals
        if not (
            signals.data_drift.enabled
            or signals.prediction_drift.enabled
            or signals.data_quality.enabled
        ):
            raise PydanticCustomError(
                "no_signal",
                "every signal is disabled: enable at least one of data_drift,"
                " prediction_drift, data_quality",
            )
        return self
