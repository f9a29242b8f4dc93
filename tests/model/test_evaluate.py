"""The evaluate step: the champion found by the versions' tags (the rule both backends share,
never the alias Azure ML lacks), and the decision and its reason set on the step's own run."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from diagnosis.evaluate import gate, main, run_tags
from diagnosis.prep import split
from diagnosis.register import set_champion
from diagnosis.train import fit

NAME = "diagnosis"
BAR = {"metric": "roc_auc", "direction": "maximize", "threshold": 0.9, "min_improvement": 0.001}
PROMOTED = {"gate_decision": "promoted", "forced": "false"}
FORCED = {"gate_decision": "not promoted", "forced": "true"}


def test_the_gate_compares_with_the_newest_promoted_version_not_a_newer_forced_one():
    scored: list[str] = []
    listed = [("10", FORCED), ("9", PROMOTED), ("2", PROMOTED)]

    def score(version: str) -> float:
        scored.append(version)
        return 0.96

    verdict = gate(0.97, listed, score, **BAR)

    assert verdict.champion == "9" and scored == ["9"]
    assert verdict.decision.promoted and "beats champion 0.9600" in verdict.decision.reason


def test_with_no_champion_nothing_is_scored():
    verdict = gate(0.95, [("1", FORCED)], lambda v: pytest.fail(f"scored {v}"), **BAR)

    assert verdict.champion is None and verdict.decision.promoted


def test_the_run_tags_are_the_decision_and_its_reason():
    decision = gate(0.85, [], float, **BAR).decision

    assert run_tags(decision) == {
        "gate_decision": "not promoted",
        "gate_reason": "roc_auc 0.8500 is below the minimum 0.9000",
    }


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    mlflow.end_run()
    mlflow.set_tracking_uri(None)  # the next test must not write into this store
    mlflow.set_registry_uri(None)


def test_the_step_sets_decision_and_reason_on_its_run_and_ignores_a_stale_alias(
    store, frame, tmp_path: Path
):
    """Version 1 promoted (strong), version 2 forced in (weak) and holding the alias, as a
    registration killed between its writes could leave it: the step compares with version 1."""
    train, holdout = split(frame)
    prepared = tmp_path / "prepared"
    prepared.mkdir()
    holdout.to_csv(prepared / "holdout.csv", index=False)
    (prepared / "dataset.json").write_text(json.dumps({"name": "bc", "version": "v1"}))
    folders = {}
    for label, regularization in (("strong", 0.01), ("weak", 0.0001)):
        folders[label] = tmp_path / label
        mlflow.sklearn.save_model(fit(train, regularization=regularization), folders[label])
    store.create_registered_model(NAME)
    store.create_model_version(NAME, str(folders["strong"]), tags=PROMOTED)
    store.create_model_version(NAME, str(folders["weak"]), tags=FORCED)
    set_champion(store, NAME, "2")

    out = tmp_path / "report"
    with mlflow.start_run() as run:
        main(
            [
                *("--prepared", str(prepared), "--model", str(folders["weak"])),
                *("--model-name", NAME, "--primary-metric", "roc_auc"),
                *("--direction", "maximize", "--threshold", "0.9"),
                *("--min-improvement", "0.001", "--report-out", str(out)),
            ]
        )

    report = json.loads((out / "gate_report.json").read_text())
    assert report["champion"]["version"] == "1"
    assert report["decision"] == "not promoted" and "against champion" in report["reason"]
    tags = store.get_run(run.info.run_id).data.tags
    assert tags["gate_decision"] == report["decision"]
    assert tags["gate_reason"] == report["reason"]
