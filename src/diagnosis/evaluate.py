"""Evaluate step, the gate: challenger against champion on the same holdout data.

`promoted` and `not promoted` are both successful outcomes; the evidence is a JSON report
and PNG plots in MLflow. A model below the absolute threshold is never registerable. The
champion is found by its version's tags, not an alias (Azure ML's registry has none), and the
decision and its reason are tags on this step's run: all `mlops run` can read of it on Azure.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from diagnosis import champion
from diagnosis.schema import FEATURES, TARGET


def classification_metrics(y_true: Any, probability: Any, cutoff: float = 0.5) -> dict[str, float]:
    """Accuracy, precision, recall, F1 (at `cutoff`) and ROC AUC of positive-class scores."""
    y_true = np.asarray(y_true)
    predicted = (np.asarray(probability) >= cutoff).astype(int)
    return {
        "accuracy": float(skm.accuracy_score(y_true, predicted)),
        "precision": float(skm.precision_score(y_true, predicted, zero_division=0)),
        "recall": float(skm.recall_score(y_true, predicted, zero_division=0)),
        "f1": float(skm.f1_score(y_true, predicted, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(y_true, probability)),
    }


@dataclass(frozen=True)
class Decision:
    promoted: bool
    registerable: bool  # False: below the absolute threshold, never registered, not even forced
    reason: str


def decide(
    challenger: float,
    champion: float | None,
    *,
    metric: str,
    direction: str,
    threshold: float | None,
    min_improvement: float,
) -> Decision:
    """The gate's rule: meet the threshold, then beat the champion by at least min_improvement."""
    sign = 1 if direction == "maximize" else -1
    if threshold is not None and sign * (challenger - threshold) < 0:
        bound = "below the minimum" if sign > 0 else "above the maximum"
        return Decision(False, False, f"{metric} {challenger:.4f} is {bound} {threshold:.4f}")
    if champion is None:
        return Decision(True, True, f"no champion yet; {metric} {challenger:.4f} meets the bar")
    improvement = sign * (challenger - champion)
    if improvement <= 0 or improvement < min_improvement:
        return Decision(
            False,
            True,
            f"{metric} {challenger:.4f} against champion {champion:.4f}: improvement"
            f" {improvement:+.4f} is not above the required {min_improvement:.4f}",
        )
    return Decision(
        True,
        True,
        f"{metric} {challenger:.4f} beats champion {champion:.4f} by {improvement:+.4f}",
    )


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    champion: str | None  # the version the challenger was compared with, if any


def gate(
    challenger: float,
    versions: champion.Versions,
    champion_score: Callable[[str], float],
    *,
    metric: str,
    direction: str,
    threshold: float | None,
    min_improvement: float,
) -> Verdict:
    """The whole gate on plain data: the champion chosen among (version, tags) pairs by their
    tags (no alias: Azure ML has none), scored by `champion_score(version)`, then `decide`.
    Both backends call exactly this, whatever listed the versions."""
    current = champion.choose(versions)
    decision = decide(
        challenger,
        None if current is None else champion_score(current),
        metric=metric,
        direction=direction,
        threshold=threshold,
        min_improvement=min_improvement,
    )
    return Verdict(decision, current)


def label(decision: Decision) -> str:
    return "promoted" if decision.promoted else "not promoted"


def run_tags(decision: Decision) -> dict[str, str]:
    """The tags the step sets on its own MLflow run: what `mlops run` reports on Azure ML,
    where the step's run tags are all the caller can read of the gate."""
    return {"gate_decision": label(decision), "gate_reason": decision.reason}


def plots(y_true: Any, scores: dict[str, Any], metric: str, values: dict[str, float]) -> dict:
    """Metric comparison, ROC curves and the challenger's confusion matrix, as figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = {}
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(list(values), list(values.values()), color=["tab:blue", "tab:gray"][: len(values)])
    ax.set_ylabel(metric)
    ax.set_ylim(min(values.values()) * 0.98, max(1.0, max(values.values())))
    ax.set_title(f"{metric}: challenger vs champion")
    figures["metric_comparison.png"] = fig

    fig, ax = plt.subplots(figsize=(4, 4))
    for name, score in scores.items():
        skm.RocCurveDisplay.from_predictions(y_true, score, name=name, ax=ax)
    ax.set_title("ROC curve (holdout)")
    figures["roc_curve.png"] = fig

    fig, ax = plt.subplots(figsize=(4, 4))
    skm.ConfusionMatrixDisplay.from_predictions(
        y_true, (np.asarray(scores["challenger"]) >= 0.5).astype(int), ax=ax, colorbar=False
    )
    ax.set_title("Challenger confusion matrix")
    figures["confusion_matrix.png"] = fig
    return figures


def _listed(model_name: str) -> list[tuple[str, dict[str, str]]]:
    """(version, tags) of every registered version of `model_name`; [] before the first."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return champion.versions(mlflow.MlflowClient(), model_name)
    except MlflowException:  # no such model yet
        return []


def holdout_metrics(prepared: Path, model: Any) -> dict[str, float]:
    """`model`'s metrics on the prepared holdout, the set every gate decision is made on."""
    holdout = pd.read_csv(prepared / "holdout.csv")
    return classification_metrics(
        holdout[TARGET], model.predict_proba(holdout[list(FEATURES)])[:, 1]
    )


def main(argv: list[str] | None = None) -> None:
    import mlflow

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--primary-metric", required=True)
    parser.add_argument("--direction", choices=["maximize", "minimize"], required=True)
    parser.add_argument("--threshold", type=float, default=None, help="the absolute bar")
    parser.add_argument("--min-improvement", type=float, default=0.0)
    parser.add_argument("--report-out", type=Path, required=True)
    args = parser.parse_args(argv)

    holdout = pd.read_csv(args.prepared / "holdout.csv")
    dataset = json.loads((args.prepared / "dataset.json").read_text())
    features, truth = holdout[list(FEATURES)], holdout[TARGET]
    challenger = mlflow.sklearn.load_model(str(args.model))
    scores = {"challenger": challenger.predict_proba(features)[:, 1]}
    results = {"challenger": classification_metrics(truth, scores["challenger"])}
    metric = args.primary_metric
    if metric not in results["challenger"]:
        known = ", ".join(results["challenger"])
        parser.error(f"unknown primary metric {metric!r}; known: {known}")

    def score(version: str) -> float:
        """The champion on the same holdout; its scores and metrics kept for the report."""
        model = mlflow.sklearn.load_model(f"models:/{args.model_name}/{version}")
        scores["champion"] = model.predict_proba(features)[:, 1]
        results["champion"] = classification_metrics(truth, scores["champion"])
        return results["champion"][metric]

    versions = _listed(args.model_name)
    threshold = args.threshold
    verdict = gate(
        results["challenger"][metric],
        versions,
        score,
        metric=metric,
        direction=args.direction,
        threshold=threshold,
        min_improvement=args.min_improvement,
    )
    decision = verdict.decision
    champion_info = None
    if verdict.champion is not None:
        tags = dict(versions)[verdict.champion]
        champion_info = {
            "version": verdict.champion,
            "dataset_version": tags.get("dataset_version"),
        }
    report = {
        "decision": label(decision),
        **asdict(decision),
        "primary_metric": metric,
        "direction": args.direction,
        "threshold": threshold,
        "min_improvement": args.min_improvement,
        "challenger": {"metrics": results["challenger"], "dataset": dataset},
        "champion": None
        if champion_info is None
        else {"metrics": results["champion"], **champion_info},
        "holdout": {
            "dataset": dataset["name"],
            "version": dataset["version"],
            "rows": len(holdout),
        },
    }
    args.report_out.mkdir(parents=True, exist_ok=True)
    (args.report_out / "gate_report.json").write_text(json.dumps(report, indent=2))

    for role, values in results.items():
        for name, value in values.items():
            mlflow.log_metric(f"{role}_{name}", value)
    mlflow.set_tags(run_tags(decision))  # on both backends: what `mlops run` reports
    mlflow.log_dict(report, "gate_report.json")
    comparison = {role: values[metric] for role, values in results.items()}
    for name, figure in plots(truth, scores, metric, comparison).items():
        mlflow.log_figure(figure, name)
    print(f"gate: {report['decision']}: {decision.reason}")


if __name__ == "__main__":
    main()
