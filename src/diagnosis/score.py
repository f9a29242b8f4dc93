"""Scoring script with Azure ML's contract: `init()` loads the model once, `run()` scores.

Request:  {"data": [{"mean_radius": 14.1, ..., "worst_fractal_dimension": 0.08}, ...]}
Response: {"predictions": [0 or 1, ...], "probabilities": [float in 0..1, ...]}
(1 = malignant). The inference-schema decorators declare both, so the inference server
publishes them as a Swagger document; a malformed request that reaches `run()` gets a 400
answer naming the row and field, never a 500: unknown keys at the top or in a row, missing
fields, non-numbers, numbers beyond a float's range (1e400, 10**400).

Each scored request's rows and answers are logged through Azure ML's data collector API
(azureml-ai-monitoring's `Collector`, collections model_inputs and model_outputs), as
https://learn.microsoft.com/azure/machine-learning/how-to-collect-production-data shows.
The package sends them to the collector agent beside the server: Azure ML's on an online
deployment with `data_collector` (to the workspace's blob storage), the local endpoint's
with `monitoring.collection: true` (to files in the same layout under .mlops/). Where no
agent is configured the collectors report "not enabled" and nothing is collected.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from inference_schema.parameter_types.standard_py_parameter_type import (
    StandardPythonParameterType,
)
from inference_schema.schema_decorators import input_schema, output_schema

from diagnosis.schema import FEATURES

try:  # inside azureml-inference-server-http, as in Azure ML
    from azureml.contrib.services.aml_response import AMLResponse
except ImportError:  # the same class, imported directly (tests, other hosts)
    from azureml_inference_server_http.api.aml_response import AMLResponse

MAX_ROWS = 1000
INPUT_KEYS = ("data",)  # run()'s one declared input: the only top-level key of a request
OUTPUT_FIELDS = {"predictions": int, "probabilities": float}
SAMPLE_INPUT = [dict.fromkeys(FEATURES, 1.0)]
SAMPLE_OUTPUT = {"predictions": [1], "probabilities": [0.97]}

model: Any = None
collectors: tuple[Any, Any] | None = None  # (model_inputs, model_outputs)
log = logging.getLogger("diagnosis.score")


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
    init_collectors()


def init_collectors() -> None:
    """Azure ML's collectors for this deployment's inputs and outputs (names as in the
    deployment's data_collector). Collection problems are logged, never fail a request."""
    global collectors
    try:
        from azureml.ai.monitoring import Collector
    except ImportError:
        log.warning("azureml-ai-monitoring is not installed: no production data is collected")
        collectors = None
        return
    collectors = (
        Collector(name="model_inputs", on_error=_collection_failed),
        Collector(name="model_outputs", on_error=_collection_failed),
    )


_reported: set[str] = set()


def _collection_failed(error: Exception) -> None:
    """Log each distinct problem once ("custom logging is not enabled" would otherwise come
    with every request of a deployment that collects nothing)."""
    if str(error) not in _reported:
        _reported.add(str(error))
        log.warning("data collection: %s", error)


def parse_request(raw: str | bytes) -> list[list[float]]:
    """The feature rows of a raw request body {"data": [...]}, in FEATURES order."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ScoringError(f"the request is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or "data" not in body:
        raise ScoringError('expected a JSON object {"data": [row, ...]}')
    check_top_level(body)
    return parse_rows(body["data"])


def check_top_level(body: dict) -> None:
    """Refuse keys beside the declared inputs, rather than silently score without them."""
    extra = sorted(set(body) - set(INPUT_KEYS))
    if extra:
        shown = ", ".join(_short(k) for k in extra[:5])
        raise ScoringError(
            f'unknown top-level key(s) {shown}: the request is {{"data": [row, ...]}}'
        )


def parse_rows(rows: Any) -> list[list[float]]:
    """Check the rows of a request: objects with exactly the FEATURES, each a finite number."""
    if not isinstance(rows, list):
        raise ScoringError(f'"data" must be a list of rows, got {type(rows).__name__}')
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
                raise ScoringError(f"row {index}: {name} must be a number, got {_short(value)}")
            try:
                number = float(value)  # an int like 10**400 does not fit: OverflowError
            except OverflowError:
                number = math.inf
            if not math.isfinite(number):
                raise ScoringError(
                    f"row {index}: {name} must be a finite number within a float's range,"
                    f" got {_short(value)}"
                )
            values.append(number)
        parsed.append(values)
    return parsed


def _short(value: Any, limit: int = 40) -> str:
    """A value for an error message, cut short: a hostile request can be megabytes long."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def _request_body() -> Any:
    """The whole JSON body of the request being scored, when run() is called by the server.

    The server hands run() only the declared inputs; the rest of the body it drops, so the
    check for unknown top-level keys reads the request itself (Flask, the server's framework,
    here and on Azure ML). None outside a request (tests calling run() directly).
    """
    try:
        from flask import has_request_context, request
    except ImportError:
        return None
    if not has_request_context():
        return None
    return request.get_json(silent=True)


@input_schema("data", StandardPythonParameterType(SAMPLE_INPUT), convert_to_provided_type=False)
@output_schema(StandardPythonParameterType(SAMPLE_OUTPUT))
def run(data: Any) -> dict[str, list] | AMLResponse:
    """Score the rows of `data`: one prediction and one probability of malignancy per row."""
    import pandas as pd

    try:
        body = _request_body()
        if isinstance(body, dict):
            check_top_level(body)
        rows = parse_rows(data)
    except ScoringError as exc:
        return AMLResponse({"error": str(exc)}, 400, json_str=True)
    inputs = pd.DataFrame(rows, columns=list(FEATURES))
    probabilities = model.predict_proba(inputs)[:, 1]
    answer = {
        "predictions": [int(p >= 0.5) for p in probabilities],
        "probabilities": [round(float(p), 6) for p in probabilities],
    }
    if collectors is not None:
        collect(inputs, pd.DataFrame(answer))
    return answer


def collect(inputs: Any, outputs: Any) -> None:
    """Log one request's rows and answers; the outputs carry the inputs' correlation
    context, so the two can be joined. Collection never fails the request it records."""
    assert collectors is not None
    try:
        context = collectors[0].collect(inputs)
        collectors[1].collect(outputs, context)
    except Exception as exc:  # the collector's own failures: the answer still goes out
        _collection_failed(exc)
