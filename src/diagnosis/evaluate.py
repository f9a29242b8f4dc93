"""Evaluate step, the gate: challenger against champion on the same holdout data.

`promoted` and `not promoted` are both successful outcomes; the evidence is a JSON report
and PNG plots in MLflow. A model below the absolute threshold, or past one of the guardrails
(bounds on other metrics, e.g. recall >= 0.95), is never registerable; the primary metric
decides only among models within every guardrail. The champion is found by its version's
tags, not an alias (Azure ML's registry has none), and the decision and its reason are tags
on this step's run: all `mlops run` can read of it on Azure.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
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


NO_GUARDRAILS = NO_CHAMPION = "none"  # the pipeline inputs' "nothing" (mlops.gate says the same)

Metrics = float | Mapping[str, float]  # a model's primary metric, or all its metrics


@dataclass(frozen=True)
class Guardrail:
    """Bounds a metric must respect (inclusive), whatever the primary metric says."""

    metric: str
    min: float | None = None
    max: float | None = None

    def broken(self, metrics: Mapping[str, float]) -> str | None:
        """Why `metrics` break this guardrail, or None when they respect it."""
        value = metrics.get(self.metric)
        if value is None:
            return f"{self.metric} was not measured (guardrail {self.describe()})"
        if self.min is not None and value < self.min:
            return f"{self.metric} {value:.4f} is below the guardrail's minimum {self.min:.4f}"
        if self.max is not None and value > self.max:
            return f"{self.metric} {value:.4f} is above the guardrail's maximum {self.max:.4f}"
        return None

    def describe(self) -> str:
        """`recall >= 0.95`, `fpr >= 0 and <= 0.1`."""
        bounds = ((">=", self.min), ("<=", self.max))
        return f"{self.metric} " + " and ".join(
            f"{op} {value:g}" for op, value in bounds if value is not None
        )


Guardrails = Mapping[str, Guardrail]


def parse_guardrails(text: str | None) -> dict[str, Guardrail]:
    """The `guardrails` input (`recall:min:0.95,precision:max:1.0`, or "none") as guardrails;
    `mlops.gate.guardrails_text` writes it from mlops.yaml's model.guardrails."""
    found: dict[str, dict[str, float]] = {}
    if not text or text.strip().lower() == NO_GUARDRAILS:
        return {}
    for part in text.split(","):
        try:
            metric, kind, value = part.strip().split(":")
            number = float(value)
        except ValueError:
            raise ValueError(f"guardrail {part!r} is not METRIC:min|max:VALUE") from None
        if kind not in ("min", "max") or not metric:
            raise ValueError(f"guardrail {part!r} is not METRIC:min|max:VALUE")
        found.setdefault(metric, {})[kind] = number
    return {metric: Guardrail(metric, **bounds) for metric, bounds in found.items()}


def guardrail_checks(metrics: Mapping[str, float], guardrails: Guardrails) -> dict[str, dict]:
    """Each guardrail with its bounds, the value measured and whether it passed: for the report."""
    return {
        name: {
            "min": rail.min,
            "max": rail.max,
            "value": metrics.get(rail.metric),
            "passed": rail.broken(metrics) is None,
        }
        for name, rail in sorted(guardrails.items())
    }


def report_guardrails(report: Mapping[str, Any]) -> dict[str, Guardrail]:
    """The guardrails a gate report was decided with (none for a report from before them)."""
    checked = (report.get("guardrails") or {}).get("challenger") or {}
    return {
        name: Guardrail(name, check.get("min"), check.get("max")) for name, check in checked.items()
    }


@dataclass(frozen=True)
class Decision:
    promoted: bool
    registerable: bool  # False: below the threshold or past a guardrail, never registered
    reason: str
    broken_guardrails: tuple[str, ...] = ()  # the guardrails the challenger broke, by metric


def _broken(metrics: Metrics | None, guardrails: Guardrails) -> dict[str, str]:
    table = metrics if isinstance(metrics, Mapping) else {}
    found = {name: rail.broken(table) for name, rail in sorted(guardrails.items())}
    return {name: why for name, why in found.items() if why is not None}


def decide(
    challenger: Metrics,
    champion: Metrics | None,
    *,
    metric: str,
    direction: str,
    threshold: float | None,
    min_improvement: float,
    guardrails: Guardrails | None = None,
) -> Decision:
    """The gate's rule: meet the threshold and every guardrail, then beat the champion by at
    least min_improvement. The primary metric decides only among models that pass every
    guardrail: a champion that breaks one is replaced by a challenger that passes them all.

    `challenger` and `champion` are a model's primary metric or all its metrics (guardrails
    need all: a guardrail whose metric is missing is broken)."""
    rails = guardrails or {}
    sign = 1 if direction == "maximize" else -1
    mine = challenger[metric] if isinstance(challenger, Mapping) else challenger
    if threshold is not None and sign * (mine - threshold) < 0:
        bound = "below the minimum" if sign > 0 else "above the maximum"
        return Decision(False, False, f"{metric} {mine:.4f} is {bound} {threshold:.4f}")
    broken = _broken(challenger, rails)
    if broken:
        return Decision(
            False,
            False,
            "guardrail broken: " + "; ".join(broken.values()),
            tuple(broken),
        )
    kept = " and every guardrail" if rails else ""
    if champion is None:
        return Decision(True, True, f"no champion yet; {metric} {mine:.4f} meets the bar{kept}")
    theirs = champion[metric] if isinstance(champion, Mapping) else champion
    champion_broken = _broken(champion, rails)
    if champion_broken:
        return Decision(
            True,
            True,
            f"the champion breaks a guardrail ({'; '.join(champion_broken.values())}); the"
            f" challenger passes every guardrail ({metric} {mine:.4f} against {theirs:.4f})",
        )
    improvement = sign * (mine - theirs)
    if improvement <= 0 or improvement < min_improvement:
        return Decision(
            False,
            True,
            f"{metric} {mine:.4f} against champion {theirs:.4f}: improvement"
            f" {improvement:+.4f} is not above the required {min_improvement:.4f}",
        )
    return Decision(
        True,
        True,
        f"{metric} {mine:.4f} beats champion {theirs:.4f} by {improvement:+.4f}",
    )


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    champion: str | None  # the version the challenger was compared with, if any


def gate(
    challenger: Metrics,
    versions: champion.Versions,
    champion_score: Callable[[str], Metrics],
    *,
    metric: str,
    direction: str,
    threshold: float | None,
    min_improvement: float,
    guardrails: Guardrails | None = None,
) -> Verdict:
    """The whole gate on plain data: the champion chosen among (version, tags) pairs by their
    tags (no alias: Azure ML has none), scored by `champion_score(version)` (its primary
    metric, or all its metrics when there are guardrails), then `decide`.
    Both backends call exactly this, whatever listed the versions."""
    current = champion.choose(versions)
    decision = decide(
        challenger,
        None if current is None else champion_score(current),
        metric=metric,
        direction=direction,
        threshold=threshold,
        min_improvement=min_improvement,
        guardrails=guardrails,
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
    parser.add_argument(
        "--guardrails", default=NO_GUARDRAILS, help="METRIC:min|max:VALUE,... or none"
    )
    parser.add_argument(
        "--champion-version",
        default=None,
        help="the champion when the run started (the reuse key); the registry has the last word",
    )
    parser.add_argument("--report-out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        guardrails = parse_guardrails(args.guardrails)
    except ValueError as exc:
        parser.error(str(exc))

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
        return results["champion"]

    versions = _listed(args.model_name)
    threshold = args.threshold
    verdict = gate(
        results["challenger"],
        versions,
        score,
        metric=metric,
        direction=args.direction,
        threshold=threshold,
        min_improvement=args.min_improvement,
        guardrails=guardrails,
    )
    decision = verdict.decision
    expected = args.champion_version
    if expected is not None and expected != (verdict.champion or NO_CHAMPION):
        print(
            f"gate: the champion moved since the run started ({expected} then,"
            f" {verdict.champion or NO_CHAMPION} now): compared with the champion as it is now"
        )
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
        "guardrails": {
            role: guardrail_checks(values, guardrails) for role, values in results.items()
        },
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
