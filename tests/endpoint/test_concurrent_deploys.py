"""Deploys of one local endpoint take turns: two at once leave one healthy server with its model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil

from tests.conftest import run_cli
from tests.endpoint.conftest import alive, good_request, healthy, post


def _deploy_in_background(cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mlops", "deploy", "--env", "local", "-o", "json"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_concurrent_deploys_leave_one_healthy_server_whose_model_folder_exists(project):
    first, second = _deploy_in_background(project), _deploy_in_background(project)
    results = []
    for process in (first, second):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, out + err
        results.append(json.loads(out))
    (listed,) = json.loads(run_cli("endpoints", "list", "-o", "json").stdout)
    assert listed["status"] == "healthy"
    assert all(r["pid"] == listed["pid"] for r in results)  # the second found it serving
    assert sorted(r["already_serving"] for r in results) == [False, True]
    model = Path(listed["folder"]) / "azureml-models" / "demo" / "1" / "model" / "MLmodel"
    assert model.is_file()
    assert post(listed["url"], good_request())[0] == 200
    leftovers = [p for p in (project / ".mlops" / "endpoints" / listed["name"]).iterdir()]
    assert leftovers == [Path(listed["folder"])]


def test_a_replacing_deploy_removes_the_old_folder_only_after_stopping_its_server(project):
    first = json.loads(run_cli("deploy", "--env", "local", "-o", "json").stdout)
    old_server = psutil.Process(first["pid"])
    second = json.loads(
        run_cli("deploy", "--env", "local", "--port", str(_other_port()), "-o", "json").stdout
    )
    assert second["pid"] != first["pid"] and healthy(second["port"])
    assert alive([old_server]) == []
    assert not Path(first["folder"]).exists()
    assert Path(second["folder"], "azureml-models", "demo", "1", "model", "MLmodel").is_file()


def _other_port() -> int:
    from tests.endpoint.conftest import free_port

    return free_port()
