"""A model trains successfully and is saved as an MLflow model."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np

from diagnosis import train
from diagnosis.prep import split
from diagnosis.schema import FEATURES, TARGET


def test_a_model_trains_and_scores_every_row(trained):
    model, holdout = trained
    probabilities = model.predict_proba(holdout[list(FEATURES)])[:, 1]
    assert probabilities.shape == (len(holdout),)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert model.score(holdout[list(FEATURES)], holdout[TARGET]) > 0.9


def test_the_train_command_saves_an_mlflow_model(frame, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    train_rows, _ = split(frame)
    train_rows.to_csv(prepared / "train.csv", index=False)
    model_dir = tmp_path / "model"
    model_dir.mkdir()  # the runner creates output folders before the step starts

    with mlflow.start_run():
        train.main(
            ["--prepared", str(prepared), "--regularization", "0.1", "--model-out", str(model_dir)]
        )

    loaded = mlflow.sklearn.load_model(str(model_dir))
    assert loaded.predict(train_rows[list(FEATURES)].head(3)).shape == (3,)


def test_the_default_model_finds_95_percent_of_malignant_cases_and_ranks_well(frame, tmp_path):
    """Issue 15's bar for the reference model, on the holdout the gate uses: recall >= 0.95
    (the guardrail in mlops.yaml) and roc_auc >= 0.99, with the pipeline's own defaults."""
    from diagnosis.evaluate import holdout_metrics

    training, holdout = split(frame)
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    metrics = holdout_metrics(tmp_path, train.fit(training))
    assert metrics["recall"] >= 0.95 and metrics["roc_auc"] >= 0.99, metrics


def test_the_pipeline_runs_with_the_defaults_the_experiment_chose():
    import yaml

    root = Path(__file__).resolve().parents[2] / "pipelines"
    inputs = yaml.safe_load((root / "train.yml").read_text())["inputs"]
    component = yaml.safe_load((root / "components" / "train.yml").read_text())["inputs"]
    assert float(inputs["regularization"]) == train.DEFAULT_REGULARIZATION
    assert inputs["class_weight"] == train.DEFAULT_CLASS_WEIGHT
    assert float(component["regularization"]["default"]) == train.DEFAULT_REGULARIZATION
    assert component["class_weight"]["default"] == train.DEFAULT_CLASS_WEIGHT
