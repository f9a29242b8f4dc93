"""Scoring script with Azure ML's contract: `init()` loads the model once, `run()` scores.

Request:  {"data": [{"mean_radius": 14.1, ..., "worst_fractal_dimension": 0.08}, ...]}
Response: {"predictions": [0 or 1, ...], "probabilities": [float in 0..1, ...]}
(1 = malignant). Malformed requests raise ScoringError naming the row and field.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from diagnosis.schema import FEATURES

MAX_ROWS = 1000
OUTPUT_FIELDS = {"predictions": int, "probabilities": float}

model: Any = None


class ScoringError(ValueError):
    """The request is malformed; the message says what to fix."""


def init() -> None:
    """Load the MLflow model from AZUREML_MODEL_DIR, wherever below it the MLmodel file is."""
    global model
    import mlflow

    root = Path(os.environ.get("AZUREML_MODEL_DIR", "."))
    found = sorted(root.rglob("MLmodel"))
    if not found:
        raise RuntimeError(f"no MLflow model (MLmodel file) under {root}")
    model = mlflow.sklearn.load_model(str(found[0].parent))


def parse_request(raw: str | bytes | dict) -> list[list[float]]:
    """The feature rows of a request, in FEATURES order, or ScoringError."""
    try:
        body = json.loads(raw) if isinstance(raw, str | bytes) else raw
    except ValueError as exc:
        raise ScoringError(f"the request is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ScoringError('expected a JSON object {"data": [row, ...]}')
    rows = body["data"]
    if not rows:
        raise ScoringError('"data" is empty: send at least one row')
    if len(rows) > MAX_ROWS:
        raise ScoringError(f'"data" has {len(rows)} rows; at most {MAX_ROWS} per request')
    parsed = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ScoringError(f"row {index}: expected an object of feature values")
        missing = [f for f in FEATURES if f not in row]
        extra = sorted(set(row) - set(FEATURES))
        if missing:
            raise ScoringError(f"row {index}: missing field(s) {', '.join(missing)}")
        if extra:
            raise ScoringError(f"row {index}: unknown field(s) {', '.join(extra)}")
        values = []
        for name in FEATURES:
            value = row[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ScoringError(f"row {index}: {name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ScoringError(f"row {index}: {name} must be finite, got {value!r}")
            values.append(float(value))
        parsed.append(values)
    return parsed


def run(raw_data: str) -> dict[str, list]:
    """Score a request: one prediction and one probability of malignancy per row."""
    import pandas as pd

    frame = pd.DataFrame(parse_request(raw_data), columns=list(FEATURES))
    probabilities = model.predict_proba(frame)[:, 1]
    return {
        "predictions": [int(p >= 0.5) for p in probabilities],
        "probabilities": [round(float(p), 6) for p in probabilities],
    }
