"""What a newcomer met first (issue 15): help in plain words, errors that name the problem,
JSON whenever JSON was asked for, and options that do what they say or are refused."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import typer.main
from ruamel.yaml import YAML

from mlops.cli import app
from tests.conftest import REPO, run_cli

CONFIG = str(REPO / "mlops.yaml")
# what typer 0.29 prints for an annotation: <bool>, <int>, <list[str]>, <path>, <table|json>
PYTHON_TYPE = re.compile(
    r"<(bool|int|float|str|path|file|dir|text|datetime)>|<list\[|<\w+\|[\w|]+>"
)


def command_paths() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(command, path: list[str]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


def test_help_shows_plain_metavars_as_git_and_az_do_never_python_types():
    paths = command_paths()
    assert len(paths) > 30
    for path in paths:
        result = run_cli(*path, "--help")
        assert result.exit_code == 0, path
        assert PYTHON_TYPE.search(result.stdout) is None, (path, result.stdout)
    root = run_cli("--help").stdout
    assert re.search(r"--verbose\s+-v\s+More detail", root)  # a counter: no <int>, no default
    assert re.search(r"--output\s+-o\s+table\|json", root)
    run = run_cli("run", "--help").stdout
    assert re.search(r"--set\s+KEY=VALUE", run)
    assert re.search(r"--no-cache\s+Run every step", run)  # a flag: no <bool>
    assert re.search(r"--timeout\s+MINUTES", run)
    assert re.search(r"--tag\s+-t\s+KEY=VALUE", run_cli("models", "register", "--help").stdout)


def test_the_run_help_example_sets_an_input_the_pipeline_declares():
    examples = re.findall(r"--set inputs\.(\w+)=", run_cli("run", "--help").stdout)
    assert examples
    declared = YAML(typ="safe").load((REPO / "pipelines" / "train.yml").read_text())["inputs"]
    assert set(examples) <= set(declared)


@pytest.mark.parametrize(
    "args",
    [
        ["-o", "json", "run", "--no-such-option"],
        ["run", "--no-such-option", "--output", "json"],
        ["--no-such-option", "--output=json"],
        ["config", "show", "-o", "json", "extra-argument"],
    ],
    ids=["root option", "command option", "root usage", "extra argument"],
)
def test_a_usage_error_under_output_json_is_a_json_error_on_stdout(args):
    result = run_cli(*args)
    assert result.exit_code == 2
    error = result.json()
    assert error["ok"] is False
    assert error["error"] == "UsageError"
    assert error["message"]
    assert "Usage:" in result.stderr or "Error" in result.stderr  # people still read it


def test_a_usage_error_without_json_leaves_stdout_empty():
    result = run_cli("run", "--no-such-option")
    assert (result.exit_code, result.stdout) == (2, "")


def test_validate_names_a_file_that_does_not_exist_as_not_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("-c", CONFIG, "validate", "nosuch.yml")
    assert result.exit_code == 2
    assert "not found: nosuch.yml" in result.stderr
    assert "no YAML files" not in result.stderr


def test_deploy_stop_is_refused_for_an_azure_environment_before_anything_is_tried():
    result = run_cli("-c", CONFIG, "deploy", "--env", "test", "--stop", "-o", "json")
    assert result.exit_code == 2
    assert result.json()["message"].startswith("--stop is for --env local")


def test_plan_detailed_exitcode_is_an_error_when_the_plan_could_not_compare_with_azure():
    # no subscription id in the reference mlops.yaml: the plan falls back to offline
    fallback = run_cli("-c", CONFIG, "plan", "--env", "dev", "--detailed-exitcode")
    assert fallback.exit_code == 1  # not 3 ("changes"): nothing was compared
    assert "could not compare with Azure" in fallback.stderr
    assert "subscription" in fallback.stderr
    plain = run_cli("-c", CONFIG, "plan", "--env", "dev")
    assert plain.exit_code == 0  # without the flag an offline listing is a fine answer
    both = run_cli("-c", CONFIG, "plan", "--offline", "--detailed-exitcode")
    assert both.exit_code == 2
    assert "--offline compares nothing" in both.stderr


@pytest.mark.parametrize(
    ("answer", "schema", "problems"),
    [
        ([1.5, 2.5], None, []),
        ([1.5], None, ["response: 1 answers for 2 rows"]),
        ({"predictions": [0, 1]}, None, []),
        ({"predictions": [0]}, None, ["predictions: 1 values for 2 rows"]),
        ([1.5, 2.5], {"type": "object"}, ["response: [1.5, 2.5] is not of type 'object'"]),
    ],
    ids=["list", "short list", "mapping", "short mapping", "declared schema"],
)
def test_smoke_checks_answers_without_a_declared_output_schema_by_rows(answer, schema, problems):
    from mlops.services.deploy import _check

    assert _check(200, answer, schema, rows=2) == problems


def test_ui_names_what_it_offers_and_mlflow_does_not_suggest_a_host_option(tmp_path):
    root = tmp_path / "demo"
    assert run_cli("init", str(root)).exit_code == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "ui.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlops", "ui", "--port", str(port)],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    assert page.status == 200
                    break
            except OSError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        time.sleep(0.5)  # MLflow's start-up notices
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    text = log.read_text()
    assert "loopback only" in text
    assert "0.0.0.0" not in text  # mlops ui has no --host: nothing may suggest one
    assert "SSH tunnel" in run_cli("ui", "--help").stdout  # the way to reach it from afar
    assert run_cli("ui", "--host", "0.0.0.0").exit_code == 2  # never listens beyond loopback


def test_a_smoke_sample_outside_the_project_is_shown_by_its_path(tmp_path: Path):
    from mlops.services.deploy import _shown

    root = tmp_path / "demo"
    assert _shown(root / "src" / "request.json", root) == "src/request.json"
    outside = tmp_path / "model-1" / "sample-request.json"
    assert _shown(outside, root).endswith("model-1/sample-request.json")
