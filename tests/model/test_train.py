"""A model trains successfully and is saved as an MLflow model."""

from __future__ import annotations

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
