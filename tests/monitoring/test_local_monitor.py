"""The local loop of monitoring: the endpoint collects what it scores, in Azure ML's layout,
and `mlops monitor --env local` finds drift in exactly the feature a client shifted."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.config import LoadedConfig, load_config
from tests.conftest import run_cli, trained_new_project

SHIFTED = "mean_texture"
MONITORING = """
monitoring:
  collection: true
  signals:
    prediction_drift:
      target_column: malignant
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project with demo:1 trained and registered, collection switched on."""
    root = trained_new_project(tmp_path_factory.mktemp("monitor"))
    with (root / "mlops.yaml").open("a", encoding="utf-8") as config:
        config.write(MONITORING)
    return root


@pytest.fixture
def served(trained: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """demo:1 deployed to the local endpoint as `mlops deploy --env local` does (in this
    CLI's environment), with mlops.yaml's collection; stopped afterwards:
    (project root, scoring URL)."""
    from mlops.backends.local.serving import LocalEndpoints
    from mlops.services.deploy import deploy_local, endpoint_name
    from mlops.services.run import state_dir

    monkeypatch.chdir(trained)
    loaded = load_config(trained / "mlops.yaml")
    endpoint, _ = deploy_local(loaded, mode="current")
    endpoints, name = LocalEndpoints(state_dir(loaded)), endpoint_name(loaded)
    try:
        yield trained, endpoint.url
    finally:
        with endpoints.lock(name):
            endpoints.stop(name)


def _rows(root: Path, scale: float = 1.0) -> list[dict[str, float]]:
    """400 rows of the training data (a fixed sample), with SHIFTED scaled by `scale`."""
    import pandas as pd

    from diagnosis.schema import FEATURES, TARGET

    frame = pd.read_csv(root / "data" / "breast_cancer.csv").sample(400, random_state=0)
    frame[SHIFTED] = frame[SHIFTED] * scale
    return frame.drop(columns=[TARGET])[list(FEATURES)].to_dict(orient="records")


def _score(url: str, rows: list[dict[str, float]]) -> None:
    body = json.dumps({"data": rows}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def _collected_rows(folder: Path) -> int:
    return sum(
        len(json.loads(line)["data"])
        for path in folder.rglob("*.jsonl")
        for line in path.read_text().splitlines()
    )


def _wait_collected(folder: Path, rows: int, timeout: float = 20.0) -> None:
    """The Collector sends from a background thread: wait until the agent wrote `rows`."""
    deadline = time.monotonic() + timeout
    while _collected_rows(folder) < rows:
        assert time.monotonic() < deadline, f"{folder} holds {_collected_rows(folder)} rows"
        time.sleep(0.1)


def _collection_folder(root: Path) -> Path:
    loaded: LoadedConfig = load_config(root / "mlops.yaml")
    return root / ".mlops" / "modelDataCollector" / str(loaded.config.deployment.endpoint_name)


def test_the_local_endpoint_collects_inputs_and_outputs_in_azure_ml_layout(served) -> None:
    root, url = served
    folder = _collection_folder(root) / "demo-1"
    before = _collected_rows(folder / "model_inputs") if folder.exists() else 0

    _score(url, _rows(root)[:5])
    _wait_collected(folder / "model_inputs", before + 5)
    _wait_collected(folder / "model_outputs", before + 5)

    for collection in ("model_inputs", "model_outputs"):
        files = sorted((folder / collection).rglob("*.jsonl"))
        assert files, collection
        year, month, day, hour = files[-1].parent.relative_to(folder / collection).parts
        assert (len(year), len(month), len(day), len(hour)) == (4, 2, 2, 2)
        record = json.loads(files[-1].read_text().splitlines()[-1])
        assert record["type"] == f"azureml.inference.{collection}"
        assert record["specversion"] == "1.0"
        # as the Collector declares it (Azure's stored example shows the class's full name)
        assert record["collectdatatype"] in ("pandas.DataFrame", "pandas.core.frame.DataFrame")
        assert record["agent"].startswith("azureml-ai-monitoring/")
        assert len(record["data"]) == 5
    inputs = json.loads(
        sorted((folder / "model_inputs").rglob("*.jsonl"))[-1].read_text().splitlines()[-1]
    )
    outputs = json.loads(
        sorted((folder / "model_outputs").rglob("*.jsonl"))[-1].read_text().splitlines()[-1]
    )
    assert set(inputs["data"][0]) >= {"mean_radius", SHIFTED}
    assert set(outputs["data"][0]) == {"predictions", "probabilities"}
    # the outputs carry the inputs' correlation id, so the two can be joined
    assert inputs["correlationid"] and inputs["correlationid"] == outputs["correlationid"]
    record = json.loads((root / ".mlops" / "endpoints" / "demo-online.json").read_text())
    assert record["collecting"] is True


def test_monitor_exits_0_on_unshifted_data_and_3_once_a_feature_is_shifted(
    served, tmp_path: Path
) -> None:
    root, url = served
    folder = _collection_folder(root) / "demo-1" / "model_inputs"
    for path in folder.rglob("*.jsonl"):  # only this test's requests count
        path.unlink()

    _score(url, _rows(root))
    _wait_collected(folder, 400)
    calm = run_cli("monitor", "--env", "local", "-o", "json")

    assert calm.exit_code == 0, calm.stdout + calm.stderr
    report = calm.json()
    assert report["drifted"] is False
    assert report["production"]["inputs"] == 400
    assert {m["signal"] for m in report["signals"]} == {
        "data_drift",
        "prediction_drift",
        "data_quality",
    }

    _score(url, _rows(root, scale=3.0))
    _wait_collected(folder, 800)
    shifted = run_cli("monitor", "--env", "local", "-o", "json")

    assert shifted.exit_code == 3, shifted.stdout + shifted.stderr
    report = shifted.json()
    drift = {m["column"]: m for m in report["signals"] if m["signal"] == "data_drift"}
    assert drift[SHIFTED]["drifted"] is True
    assert drift[SHIFTED]["value"] > drift[SHIFTED]["threshold"]
    assert [c for c, m in drift.items() if m["drifted"]] == [SHIFTED]
    assert Path(report["reports"]["html"]).is_file()
    assert json.loads(Path(report["reports"]["json"]).read_text())["drifted"] is True

    table = run_cli("monitor", "--env", "local", "--report-dir", str(tmp_path / "reports"))
    assert table.exit_code == 3
    assert SHIFTED in table.stdout
    assert str(tmp_path / "reports" / "report.html") in table.stderr
    assert (tmp_path / "reports" / "report.json").is_file()


def test_monitor_without_collected_data_exits_2_saying_how_to_collect(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(trained)
    shutil.rmtree(trained / ".mlops" / "modelDataCollector", ignore_errors=True)
    shutil.rmtree(trained / ".mlops" / "monitoring", ignore_errors=True)

    result = run_cli("monitor", "--env", "local")

    assert result.exit_code == 2
    assert "no data collected for demo:1" in result.stderr
    assert "monitoring.collection: true" in result.stderr
    assert not (trained / ".mlops" / "monitoring").exists()  # nothing written


@pytest.mark.parametrize(
    "damage",
    [b"\xff\xfe not UTF-8\n", b'{"data": [{"mean_radius": 1.0}\n', b'["no", "data"]\n'],
    ids=["non-utf8", "truncated", "no-data-key"],
)
def test_a_damaged_collected_file_exits_2_naming_its_line(
    trained: Path, monkeypatch: pytest.MonkeyPatch, damage: bytes
) -> None:
    monkeypatch.chdir(trained)
    folder = _collection_folder(trained) / "demo-1" / "model_inputs" / "2026" / "11" / "30" / "01"
    folder.mkdir(parents=True, exist_ok=True)
    damaged = folder / "damaged.jsonl"
    damaged.write_bytes(b'{"data": [{"mean_radius": 1.0}]}\n' + damage)
    try:
        result = run_cli("monitor", "--env", "local")
    finally:
        damaged.unlink()

    assert result.exit_code == 2, result.stderr
    assert "damaged.jsonl:2: not a collected-data record" in result.stderr


def test_monitor_refuses_a_baseline_that_changed_since_training(
    served, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, url = served
    _score(url, _rows(root)[:20])
    _wait_collected(_collection_folder(root) / "demo-1" / "model_inputs", 20)
    data = root / "data" / "breast_cancer.csv"
    original = data.read_bytes()
    try:
        data.write_bytes(original + original.splitlines(keepends=True)[-1])

        result = run_cli("monitor", "--env", "local")
    finally:
        data.write_bytes(original)

    assert result.exit_code == 2
    assert "trained on breast-cancer version" in result.stderr
    assert "data/breast_cancer.csv" in result.stderr


def test_monitor_is_for_the_local_environment(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(trained)

    result = run_cli("monitor", "--env", "dev")

    assert result.exit_code == 2
    assert "an Azure environment" in result.stderr
    assert "monitor schedule" in result.stderr


def test_switching_collection_on_restarts_a_serving_endpoint_and_an_unchanged_one_is_reused(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.backends.local.serving import LocalEndpoints
    from mlops.services.deploy import deploy_local, endpoint_name
    from mlops.services.run import state_dir

    monkeypatch.chdir(trained)
    quiet = load_config(trained / "mlops.yaml")
    quiet.config.monitoring.collection = False
    collecting = load_config(trained / "mlops.yaml")
    endpoints, name = LocalEndpoints(state_dir(quiet)), endpoint_name(quiet)
    try:
        first, started = deploy_local(quiet, mode="current")
        assert started and first.collecting is False
        second, started = deploy_local(collecting, mode="current")
        assert started and second.collecting is True
        third, started = deploy_local(collecting, mode="current")
        assert not started and third.pid == second.pid
    finally:
        with endpoints.lock(name):
            endpoints.stop(name)
