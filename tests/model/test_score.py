"""The scoring script returns the declared output schema and rejects malformed input clearly."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from diagnosis import score
from diagnosis.schema import FEATURES

SAMPLE = Path(score.__file__).with_name("sample_request.json")


@pytest.fixture(scope="module")
def scorer(trained, tmp_path_factory):
    model, _ = trained
    model_dir = tmp_path_factory.mktemp("azureml-models") / "diagnosis" / "1" / "model"
    mlflow.sklearn.save_model(model, model_dir)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AZUREML_MODEL_DIR", str(model_dir.parents[1]))
        score.init()
    return score


def test_run_returns_the_declared_output_schema(scorer):
    result = scorer.run(json.loads(SAMPLE.read_text())["data"])
    assert set(result) == set(score.OUTPUT_FIELDS)
    assert len(result["predictions"]) == len(result["probabilities"]) == 2
    assert all(type(p) is int and p in (0, 1) for p in result["predictions"])
    assert all(type(p) is float and 0 <= p <= 1 for p in result["probabilities"])
    assert result["predictions"] == [1, 0]  # the sample holds one malignant, one benign case


def row(**changes):
    values = dict.fromkeys(FEATURES, 1.0)
    values.update(changes)
    return {k: v for k, v in values.items() if v is not ...}


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps("just text"), 'expected a JSON object {"data"'),
        (json.dumps({"data": "x"}), '"data" must be a list of rows, got str'),
        (json.dumps({"data": []}), '"data" is empty'),
        (json.dumps({"data": [row(mean_radius=...)]}), "row 0: missing field(s) mean_radius"),
        (json.dumps({"data": [row(colour=1)]}), "row 0: unknown field(s) colour"),
        (json.dumps({"data": [row(), row(mean_area="big")]}), "row 1: mean_area must be a number"),
        (json.dumps({"data": [row(mean_area=True)]}), "mean_area must be a number, got True"),
        (json.dumps({"data": [row()] * 1001}), "at most 1000 per request"),
        (json.dumps({"data": [3]}), "row 0: expected an object"),
    ],
)
def test_malformed_requests_are_rejected_with_a_clear_error(request_body, message):
    with pytest.raises(score.ScoringError) as caught:
        score.parse_request(request_body)
    assert message in str(caught.value)


def test_run_answers_a_malformed_request_with_400_not_an_exception(scorer):
    response = scorer.run([{"mean_radius": "big"}])
    assert response.status_code == 400
    assert "row 0: missing field(s)" in json.loads(response.get_data())["error"]


def test_init_says_where_it_looked_when_there_is_no_model(tmp_path, monkeypatch):
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match=f"no MLflow model \\(MLmodel file\\) under {tmp_path}"):
        score.init()
