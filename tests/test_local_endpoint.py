"""The model served locally by the real azureml-inference-server-http: deploy, replace, stop,
crash detection, bad requests, smoke tests, `mlops up`, `mlops serve` and `mlops package`."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import mlops_in_background, run_cli, trained_new_project


def cli_json(*args: str) -> dict:
    result = run_cli(*args, "-o", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.json()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project with version 1 registered (trained once for the whole module)."""
    return trained_new_project(tmp_path_factory.mktemp("endpoint"))


@pytest.fixture
def project(trained: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(trained)
    yield trained
    run_cli("deploy", "--env", "local", "--stop")  # never leave a server behind


def post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies waiting to be reaped do not)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def test_deploy_serves_the_champion_on_loopback_and_answers_the_sample(project):
    endpoint = cli_json("deploy", "--env", "local")
    assert endpoint["model"] == "demo" and endpoint["version"] == "1"
    assert endpoint["url"].startswith("http://127.0.0.1:")
    sample = (project / "src" / "diagnosis" / "sample_request.json").read_bytes()
    status, body = post(endpoint["url"], sample)
    assert status == 200
    assert json.loads(body)["predictions"] == [1, 0]
    model_dir = Path(endpoint["folder"]) / "azureml-models" / "demo" / "1" / "model"
    assert (model_dir / "MLmodel").is_file()  # the layout Azure ML mounts


BAD_REQUESTS = {
    "invalid JSON": (b"{not json", "application/json"),
    "not an object": (b"[1, 2]", "application/json"),
    "no data": (b'{"rows": []}', "application/json"),
    "data not a list": (b'{"data": "x"}', "application/json"),
    "empty data": (b'{"data": []}', "application/json"),
    "missing field": (b'{"data": [{"mean_radius": 1.0}]}', "application/json"),
    "wrong type": (None, "application/json"),
    "extra field": (None, "application/json"),
    "oversized": (None, "application/json"),
    "not JSON content": (b"mean_radius=1", "text/plain"),
}


def _row(**changes) -> dict:
    from diagnosis.schema import FEATURES

    return {**dict.fromkeys(FEATURES, 1.0), **changes}


def test_bad_requests_get_4xx_naming_the_problem_and_the_server_stays_healthy(project):
    endpoint = cli_json("deploy", "--env", "local")
    generated = {
        "wrong type": json.dumps({"data": [_row(mean_area="big")]}).encode(),
        "extra field": json.dumps({"data": [_row(colour=1)]}).encode(),
        "oversized": json.dumps({"data": [_row()] * 1001}).encode(),
    }
    for name, (body, content_type) in BAD_REQUESTS.items():
        status, answer = post(endpoint["url"], body or generated[name], content_type)
        assert 400 <= status < 500, (name, status, answer)
        assert answer.strip(), name
    assert "mean_area must be a number" in post(endpoint["url"], generated["wrong type"])[1]
    assert healthy(endpoint["port"])
    assert post(endpoint["url"], json.dumps({"data": [_row()]}).encode())[0] == 200


def test_a_new_version_replaces_the_old_server_only_once_healthy(project):
    first = cli_json("deploy", "--env", "local", "--model", "demo:1")
    again = cli_json("deploy", "--env", "local", "--model", "demo:1")
    assert again["already_serving"] and again["pid"] == first["pid"]
    assert run_cli("run", "--force-register").exit_code == 0  # registers demo:2, not champion
    second = cli_json("deploy", "--env", "local", "--model", "demo:2")
    assert second["version"] == "2" and second["pid"] != first["pid"]
    assert healthy(second["port"])
    deadline = time.monotonic() + 15
    while group_alive(first["pid"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not group_alive(first["pid"])
    assert not Path(first["folder"]).exists()  # the replaced copy of the model is removed


def test_stop_leaves_no_server_process(project):
    endpoint = cli_json("deploy", "--env", "local")
    stopped = cli_json("deploy", "--env", "local", "--stop")
    assert stopped["stopped"]["pid"] == endpoint["pid"]
    assert not group_alive(endpoint["pid"])
    assert cli_json("endpoints", "list") == []


def test_a_crashed_server_is_reported_not_hidden(project):
    endpoint = cli_json("deploy", "--env", "local")
    os.killpg(endpoint["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 15
    while group_alive(endpoint["pid"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    (listed,) = cli_json("endpoints", "list")
    assert listed["status"] == "crashed"
    smoke = run_cli("smoke", "--env", "local")
    assert smoke.exit_code == 1
    assert "crashed" in smoke.stderr


def test_smoke_checks_status_schema_and_rows(project):
    cli_json("deploy", "--env", "local")
    result = cli_json("smoke", "--env", "local")
    (check,) = result["checks"]
    assert check["ok"] and check["status"] == 200 and check["latency_ms"]["median"] > 0


def test_smoke_fails_when_the_sample_is_rejected(project):
    cli_json("deploy", "--env", "local")
    config = (project / "mlops.yaml").read_text()
    (project / "bad_request.json").write_text(json.dumps({"data": [{"mean_radius": 1}]}))
    other = project / "bad-sample.yaml"  # same project folder, other sample request
    other.write_text(config.replace("src/diagnosis/sample_request.json", "bad_request.json"))
    try:
        result = run_cli("--config", str(other), "smoke", "--env", "local")
    finally:
        other.unlink()
    assert result.exit_code == 1
    assert "expected status 200, got 400" in result.stderr


def test_up_runs_the_whole_loop_and_reuses_unchanged_steps_the_second_time(project):
    first = cli_json("up")
    assert first["ok"] and [s["step"] for s in first["steps"]] == [
        "set up",
        "train, gate, register",
        "deploy",
        "smoke test",
    ]
    assert (
        post(
            first["endpoint"]["url"], (project / "src/diagnosis/sample_request.json").read_bytes()
        )[0]
        == 200
    )
    second = cli_json("up")
    statuses = {s["step"]: s["status"] for s in second["run"]["steps"]}
    assert statuses["prep"] == statuses["train"] == "reused"
    assert second["gate"]["decision"] == "not promoted"
    assert second["endpoint"]["pid"] == first["endpoint"]["pid"]


def test_serve_runs_the_same_server_in_the_foreground(project):
    with mlops_in_background("serve", cwd=project) as port:
        sample = (project / "src" / "diagnosis" / "sample_request.json").read_bytes()
        assert post(f"http://127.0.0.1:{port}/score", sample)[0] == 200


def test_package_writes_a_build_context_like_azure_ml_builds(project, tmp_path):
    built = cli_json("package", "--model", "demo:1", "--out", str(tmp_path / "ctx"))
    files = set(built["files"])
    assert {"Dockerfile", "code/diagnosis/score.py"} <= files
    assert "azureml-models/demo/1/model/MLmodel" in files
    dockerfile = (tmp_path / "ctx" / "Dockerfile").read_text()
    # the image of deployment.environment (default: the curated scikit-learn 1.5), as the
    # local endpoint resolves it: tests/environments/test_serving.py serves from its pins
    assert built["base_image"] == "mcr.microsoft.com/azureml/curated/sklearn-1.5:latest"
    assert dockerfile.splitlines()[4] == f"FROM {built['base_image']}"
    assert "AZUREML_MODEL_DIR=/var/azureml-app/azureml-models/demo/1" in dockerfile
    assert "USER azureml-app" in dockerfile
