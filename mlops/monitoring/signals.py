"""The monitoring signals, computed as Azure ML names them: drift per feature, prediction
drift, data quality. Pure: two pandas DataFrames in, a list of `Measure`s out.

Metrics (names, and which direction fires, from
https://learn.microsoft.com/azure/machine-learning/how-to-monitor-model-performance
"Data drift" / "Prediction drift" / "Data quality" metric tables), computed with scipy:

- normalized_wasserstein_distance: the first Wasserstein distance divided by the baseline's
  standard deviation, so it has no unit (Azure does not publish its normalization; dividing
  by the reference's spread is the common one and keeps 0.1, Azure's default, meaningful);
- jensen_shannon_distance (base 2, 0..1) over the baseline's decile bins, or the categories;
- population_stability_index over the same bins;
- two_sample_kolmogorov_smirnov_test and pearsons_chi_squared_test: p-values, which fire
  when *below* the threshold (a small p-value says the samples differ);
- null_value_rate, data_type_error_rate, out_of_bounds_rate: shares of production values
  (missing; not numbers where the baseline has numbers; outside the baseline's min..max).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlops.config.monitoring import Monitoring

#: metrics that are p-values: a value below the threshold fires
P_VALUES = frozenset({"two_sample_kolmogorov_smirnov_test", "pearsons_chi_squared_test"})
_BINS = 10
_EPSILON = 1e-6  # empty bins in PSI: the usual smoothing, so log(0) never happens


@dataclass(frozen=True)
class Measure:
    """One signal's metric on one column, and whether it crossed its threshold."""

    signal: str  # data_drift, prediction_drift, data_quality
    column: str
    metric: str
    value: float
    threshold: float
    drifted: bool
    histogram: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("histogram")
        return data


def crossed(metric: str, value: float, threshold: float) -> bool:
    return value < threshold if metric in P_VALUES else value > threshold


def numerical_drift(metric: str, baseline: Any, production: Any) -> float:
    """`metric` between two samples of a numerical feature (NaNs dropped)."""
    import numpy as np
    from scipy import stats
    from scipy.spatial import distance

    ref = np.asarray(baseline, dtype=float)
    cur = np.asarray(production, dtype=float)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if metric == "normalized_wasserstein_distance":
        spread = float(np.std(ref)) or 1.0
        return float(stats.wasserstein_distance(ref, cur) / spread)
    if metric == "two_sample_kolmogorov_smirnov_test":
        return float(stats.ks_2samp(ref, cur).pvalue)
    edges = _edges(ref)
    p = np.histogram(np.clip(ref, edges[0], edges[-1]), edges)[0] / len(ref)
    q = np.histogram(np.clip(cur, edges[0], edges[-1]), edges)[0] / len(cur)
    if metric == "jensen_shannon_distance":
        return float(distance.jensenshannon(p, q, base=2))
    if metric == "population_stability_index":
        return _psi(p, q)
    raise ValueError(f"unknown numerical drift metric {metric}")


def categorical_drift(metric: str, baseline: Any, production: Any) -> float:
    """`metric` between two samples of a categorical column (class labels)."""
    import numpy as np
    from scipy import stats
    from scipy.spatial import distance

    ref, cur = _labels(baseline), _labels(production)
    categories = sorted(set(ref) | set(cur))
    p = ref.value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
    q = cur.value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
    if metric == "pearsons_chi_squared_test":
        return float(stats.chi2_contingency(np.vstack([p, q]) + _EPSILON).pvalue)
    p, q = p / p.sum(), q / q.sum()
    if metric == "jensen_shannon_distance":
        return float(distance.jensenshannon(p, q, base=2))
    if metric == "population_stability_index":
        return _psi(p, q)
    raise ValueError(f"unknown categorical drift metric {metric}")


def compute(
    monitoring: Monitoring,
    baseline: pd.DataFrame,
    inputs: pd.DataFrame,
    outputs: pd.DataFrame | None,
) -> list[Measure]:
    """Every enabled signal over production `inputs` (and `outputs`) against `baseline`.

    Raises ValueError naming a configured column that the data lacks."""
    import pandas as pd

    measures: list[Measure] = []
    features = [c for c in inputs.columns if c in baseline.columns]
    drift = monitoring.signals.data_drift
    missing = sorted(set(drift.features) - set(features))
    if missing:
        raise ValueError(
            f"monitoring.signals.data_drift.features names {', '.join(missing)}, which the"
            f" collected inputs lack (they have {', '.join(features)})"
        )
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(baseline[c])]
    if drift.enabled:
        for column in numeric:
            own = drift.features.get(column)
            metric = (own.metric if own else None) or drift.metric
            threshold = drift.threshold if own is None or own.threshold is None else own.threshold
            value = numerical_drift(metric, baseline[column], _numbers(inputs[column]))
            measures.append(
                Measure(
                    "data_drift",
                    column,
                    metric,
                    value,
                    threshold,
                    crossed(metric, value, threshold),
                    _histogram(baseline[column], _numbers(inputs[column])),
                )
            )
    prediction = monitoring.signals.prediction_drift
    if prediction.enabled and prediction.target_column and outputs is not None:
        for name, frame in (("collected outputs", outputs), ("baseline", baseline)):
            column = prediction.column if frame is outputs else prediction.target_column
            if column not in frame.columns:
                raise ValueError(f"the {name} have no column {column}")
        value = categorical_drift(
            prediction.metric, baseline[prediction.target_column], outputs[prediction.column]
        )
        measures.append(
            Measure(
                "prediction_drift",
                prediction.column,
                prediction.metric,
                value,
                prediction.threshold,
                crossed(prediction.metric, value, prediction.threshold),
                _categories(baseline[prediction.target_column], outputs[prediction.column]),
            )
        )
    quality = monitoring.signals.data_quality
    if quality.enabled:
        measures += _quality(quality, baseline, inputs, features, numeric)
    return measures


def _quality(
    quality: Any, baseline: pd.DataFrame, inputs: pd.DataFrame, features: list[str], numeric
) -> list[Measure]:
    import pandas as pd

    measures = []
    for column in features:
        values = inputs[column]
        rates = {"null_value_rate": float(values.isna().mean())}
        if column in numeric:
            numbers = pd.to_numeric(values, errors="coerce")
            present = values.notna()
            rates["data_type_error_rate"] = float((numbers.isna() & present).mean())
            low, high = baseline[column].min(), baseline[column].max()
            valid = numbers.dropna()
            rates["out_of_bounds_rate"] = (
                float(((valid < low) | (valid > high)).sum() / len(values)) if len(values) else 0.0
            )
        for metric, value in rates.items():
            threshold = getattr(quality, metric)
            measures.append(
                Measure("data_quality", column, metric, value, threshold, value > threshold)
            )
    return measures


def _numbers(values: Any) -> Any:
    import pandas as pd

    return pd.to_numeric(pd.Series(values), errors="coerce")


def _edges(ref: Any) -> Any:
    """Bin edges at the baseline's deciles (distinct), the outer ones widened to cover all."""
    import numpy as np

    edges = np.unique(np.quantile(ref, np.linspace(0, 1, _BINS + 1)))
    if len(edges) < 2:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


def _psi(p: Any, q: Any) -> float:
    import numpy as np

    p, q = np.clip(p, _EPSILON, None), np.clip(q, _EPSILON, None)
    return float(np.sum((q - p) * np.log(q / p)))


def _histogram(baseline: Any, production: Any) -> dict[str, Any]:
    """Shares of both samples in common bins, for the report's plot."""
    import numpy as np

    ref = np.asarray(baseline, dtype=float)
    cur = np.asarray(production, dtype=float)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    both = np.concatenate([ref, cur])
    edges = np.histogram_bin_edges(both, bins=20)
    return {
        "edges": [float(e) for e in edges],
        "baseline": [float(v) for v in np.histogram(ref, edges)[0] / max(len(ref), 1)],
        "production": [float(v) for v in np.histogram(cur, edges)[0] / max(len(cur), 1)],
    }


def _labels(values: Any) -> Any:
    """Class labels as text, whole numbers without a decimal point: a label column read
    from CSV as 1.0 is the same class as a prediction 1."""
    import pandas as pd

    series = pd.Series(values).dropna()
    numbers = pd.to_numeric(series, errors="coerce")
    if len(series) and numbers.notna().all() and (numbers % 1 == 0).all():
        return numbers.astype("int64").astype(str)
    return series.astype(str)


def _categories(baseline: Any, production: Any) -> dict[str, Any]:
    ref, cur = _labels(baseline), _labels(production)
    labels = sorted(set(ref) | set(cur))
    return {
        "labels": labels,
        "baseline": [float((ref == label).mean()) for label in labels],
        "production": [float((cur == label).mean()) for label in labels],
    }
