"""The register step against a real MLflow registry: who becomes champion, and when the
decision is taken again because another run registered a champion meanwhile."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import mlflow
import pytest

from diagnosis import champion
from diagnosis.evaluate import classification_metrics
from diagnosis.register import main as register
from diagnosis.schema import FEATURES, TARGET
from diagnosis.train import fit

NAME = "diagnosis"


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> Path:
    """An MLflow store with its tables made once: creating them takes seconds."""
    path = tmp_path_factory.mktemp("store") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_store: Path):
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    monkeypatch.setenv(champion.LOCK_VARIABLE, str(tmp_path / "registry.lock"))
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    mlflow.end_run()
    mlflow.set_tracking_uri(None)  # the next test must not write into this store
    mlflow.set_registry_uri(None)


@pytest.fixture(scope="module")
def models(frame, tmp_path_factory):
    """Two real models on the real split: a weak one and a strong one, saved as MLflow models,
    with the prepared holdout folder the gate reads."""
    from diagnosis.prep import split

    root = tmp_path_factory.mktemp("models")
    train, holdout = split(frame)
    prepared = root / "prepared"
    prepared.mkdir()
    holdout.to_csv(prepared / "holdout.csv", index=False)
    saved = {}
    for label, regularization in (("weak", 0.0001), ("strong", 0.01)):
        model = fit(train, regularization=regularization)
        folder = root / label
        mlflow.sklearn.save_model(model, folder)
        scores = model.predict_proba(holdout[list(FEATURES)])[:, 1]
        saved[label] = (folder, classification_metrics(holdout[TARGET], scores)["roc_auc"])
    return saved, prepared


def report(auc: float, *, promoted: bool, champion_version: str | None, threshold=0.9) -> dict:
    return {
        "decision": "promoted" if promoted else "not promoted",
        "promoted": promoted,
        "registerable": auc >= threshold,
        "reason": "as evaluated",
        "primary_metric": "roc_auc",
        "direction": "maximize",
        "threshold": threshold,
        "min_improvement": 0.0,
        "challenger": {"metrics": {"roc_auc": auc}, "dataset": {"name": "bc", "version": "v1"}},
        "champion": None if champion_version is None else {"version": champion_version},
    }


def run_register(tmp: Path, model: Path, gate: dict, prepared: Path, *, force=False) -> dict:
    """One register step, in-process, as the pipeline calls it; its registration.json."""
    folder = tmp / f"run-{len(list(tmp.glob('run-*')))}"
    (folder / "report").mkdir(parents=True)
    (folder / "report" / "gate_report.json").write_text(json.dumps(gate))
    register(
        [
            *("--model", str(model), "--report", str(folder / "report")),
            *("--prepared", str(prepared), "--model-name", NAME),
            *("--force-register", str(force).lower(), "--out", str(folder / "out")),
            *("--git-branch", "x$(touch /tmp/pwn)"),
        ]
    )
    mlflow.end_run()
    return json.loads((folder / "out" / "registration.json").read_text())


def alias_holder(client: mlflow.MlflowClient) -> str | None:
    try:
        return str(client.get_model_version_by_alias(NAME, champion.CHAMPION_ALIAS).version)
    except mlflow.exceptions.MlflowException:
        return None


def test_a_promoted_version_becomes_champion_and_keeps_its_lineage_verbatim(
    store, models, tmp_path
):
    (strong, auc), prepared = models[0]["strong"], models[1]
    outcome = run_register(
        tmp_path, strong, report(auc, promoted=True, champion_version=None), prepared
    )
    assert outcome["registered"] and outcome["version"] == "1" and not outcome["forced"]
    assert alias_holder(store) == "1"
    assert store.get_model_version(NAME, "1").tags["git_branch"] == "x$(touch /tmp/pwn)"


def test_a_forced_version_is_registered_and_tagged_but_never_takes_champion(
    store, models, tmp_path
):
    saved, prepared = models
    run_register(
        tmp_path,
        saved["strong"][0],
        report(saved["strong"][1], promoted=True, champion_version=None),
        prepared,
    )
    weak, auc = saved["weak"]
    outcome = run_register(
        tmp_path, weak, report(auc, promoted=False, champion_version="1"), prepared, force=True
    )
    assert outcome["registered"] and outcome["forced"]
    assert store.get_model_version(NAME, outcome["version"]).tags["forced"] == "true"
    assert alias_holder(store) == "1"
    assert str(champion.find(store, NAME).version) == "1"


def test_a_forced_version_with_no_champion_leaves_no_champion(store, models, tmp_path):
    weak, auc = models[0]["weak"]
    gate = report(auc, promoted=False, champion_version=None)
    gate["reason"] = "not promoted for the test"
    outcome = run_register(tmp_path, weak, gate, models[1], force=True)
    assert outcome["registered"] and outcome["forced"]
    assert alias_holder(store) is None and champion.find(store, NAME) is None


def test_the_threshold_holds_for_a_forced_version(store, models, tmp_path):
    weak, auc = models[0]["weak"]
    gate = report(auc, promoted=False, champion_version=None, threshold=0.9999)
    outcome = run_register(tmp_path, weak, gate, models[1], force=True)
    assert not outcome["registered"]
    assert store.search_model_versions(f"name = '{NAME}'") == []


def test_when_a_better_champion_was_registered_meanwhile_the_challenger_is_not_promoted(
    store, models, tmp_path
):
    saved, prepared = models
    # both runs evaluated against no champion; the strong one registered first
    run_register(
        tmp_path,
        saved["strong"][0],
        report(saved["strong"][1], promoted=True, champion_version=None),
        prepared,
    )
    outcome = run_register(
        tmp_path,
        saved["weak"][0],
        report(saved["weak"][1], promoted=True, champion_version=None),
        prepared,
    )
    assert not outcome["registered"]
    assert outcome["decision"] == "not promoted"
    assert "at registration the champion is version 1" in outcome["reason"]
    assert alias_holder(store) == "1"


def test_when_a_worse_champion_was_registered_meanwhile_the_challenger_still_wins(
    store, models, tmp_path
):
    saved, prepared = models
    run_register(
        tmp_path,
        saved["weak"][0],
        report(saved["weak"][1], promoted=True, champion_version=None),
        prepared,
    )
    outcome = run_register(
        tmp_path,
        saved["strong"][0],
        report(saved["strong"][1], promoted=True, champion_version=None),
        prepared,
    )
    assert outcome["registered"] and outcome["version"] == "2"
    assert "beats champion" in outcome["reason"]
    assert alias_holder(store) == "2"
    gate_report = json.loads(
        Path(
            store.download_artifacts(store.get_model_version(NAME, "2").run_id, "gate_report.json")
        ).read_text()
    )
    assert gate_report["champion"]["version"] == "1"  # the evidence names the champion it beat


def test_signals_wait_until_the_version_and_its_alias_are_written():
    received = []
    previous = signal.signal(signal.SIGTERM, lambda *_: received.append("TERM"))
    try:
        with champion.signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            assert received == []  # held: the block finishes first
        assert received == ["TERM"]  # delivered on the way out
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_registry_lock_keeps_a_second_registration_waiting(tmp_path, monkeypatch):
    import subprocess
    import sys

    lock = tmp_path / "registry.lock"
    monkeypatch.setenv(champion.LOCK_VARIABLE, str(lock))
    probe = (
        "import fcntl, sys\n"
        f"handle = open({str(lock)!r}, 'a')\n"
        "try:\n"
        "    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n"
        "    sys.exit(3)\n"
    )
    with champion.registry_lock():
        assert subprocess.run([sys.executable, "-c", probe]).returncode == 3  # held
    assert subprocess.run([sys.executable, "-c", probe]).returncode == 0  # released
