"""Train step: fit the classifier and save it as an MLflow model."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from diagnosis.schema import FEATURES, TARGET

DEFAULT_REGULARIZATION = 0.1  # C, chosen by compare_models.py (experiments)
DEFAULT_CLASS_WEIGHT = "balanced"


def fit(
    train: pd.DataFrame,
    regularization: float = DEFAULT_REGULARIZATION,
    class_weight: str | None = DEFAULT_CLASS_WEIGHT,
) -> Pipeline:
    """Scaled logistic regression; `regularization` is the inverse strength C, `class_weight`
    "balanced" (errors on the rarer class, malignant, weigh more) or None (all alike)."""
    weight = None if class_weight in (None, "", "none") else class_weight
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=regularization, class_weight=weight, max_iter=1000),
    )
    return model.fit(train[list(FEATURES)], train[TARGET])


def main(argv: list[str] | None = None) -> None:
    import mlflow
    from mlflow.models import infer_signature

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--regularization", type=float, default=DEFAULT_REGULARIZATION)
    parser.add_argument(
        "--class-weight", choices=["balanced", "none"], default=DEFAULT_CLASS_WEIGHT
    )
    parser.add_argument("--model-out", type=Path, required=True)
    args = parser.parse_args(argv)

    train = pd.read_csv(args.prepared / "train.csv")
    model = fit(train, args.regularization, args.class_weight)
    features = train[list(FEATURES)]
    mlflow.log_params({"regularization": args.regularization, "class_weight": args.class_weight})
    mlflow.log_metric("train_accuracy", float(model.score(features, train[TARGET])))
    signature = infer_signature(features, model.predict_proba(features)[:, 1])
    # cloudpickle, not MLflow 3's default skops: skops is not in Azure ML's curated
    # sklearn-1.5 environment, the one this step declares (and runs in locally too)
    mlflow.sklearn.save_model(
        model,
        args.model_out,
        signature=signature,
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
    )
    print(f"train: model saved to {args.model_out}")


if __name__ == "__main__":
    main()
