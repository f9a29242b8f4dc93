"""The command line: global options, output channels and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlops import __version__
from tests.conftest import REPO


def test_version_prints_the_package_version(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"mlops {__version__}"


def test_help_lists_the_config_commands_and_exit_codes(cli):
    result = cli("--help")
    assert result.exit_code == 0
    assert "config" in result.stdout
    assert "2 bad input or usage" in result.stdout


def test_an_unknown_option_is_a_usage_error(cli):
    assert cli("config", "validate", "--no-such-option").exit_code == 2


def test_validate_reports_success_on_stderr_and_keeps_stdout_clean(project, cli):
    project("project: {name: churn}\n")
    result = cli("config", "validate")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "mlops.yaml is valid" in result.stderr


def test_validate_json_lists_environments_and_warnings(project, cli):
    project("project: {name: churn}\nenvironments: {dev: {}, prod: {}}\n")
    report = cli("config", "validate", "--output", "json").json()
    assert report["ok"] is True
    assert report["environments"] == ["local", "dev", "prod"]
    assert [w["path"] for w in report["warnings"]] == ["environments.prod"]


def test_output_may_be_chosen_before_or_after_the_command(project, cli):
    project("project: {name: churn}\n")
    before = cli("--output", "json", "config", "show")
    after = cli("config", "show", "--output", "json")
    assert before.exit_code == after.exit_code == 0
    assert before.json() == after.json()


def test_show_prints_the_effective_config_with_defaults(project, cli):
    project("project: {name: churn}\n")
    shown = cli("config", "show", "-o", "json").json()
    assert shown["environments"]["dev"]["resource_group"] == "rg-churn-dev"
    assert shown["environments"]["prod"]["approval"]["approvers"] == ["platform_engineers"]
    assert shown["deployment"]["endpoint_name"] == "churn-online"


def test_show_as_yaml_round_trips_to_the_same_config(project, cli, tmp_path: Path):
    project("project: {name: churn}\nazure: {name_prefix: c}\n")
    as_yaml = cli("config", "show").stdout
    (tmp_path / "again.yaml").write_text(as_yaml)
    again = cli("--config", str(tmp_path / "again.yaml"), "config", "show", "-o", "json")
    assert again.json() == cli("config", "show", "-o", "json").json()


def test_config_option_and_environment_variable_choose_the_file(tmp_path: Path, cli):
    other = tmp_path / "elsewhere.yaml"
    other.write_text("project: {name: other}\n")
    by_option = cli("config", "show", "-o", "json", "--config", str(other))
    by_env = cli("config", "show", "-o", "json", env={"MLOPS_CONFIG": str(other)})
    assert by_option.json()["project"]["name"] == "other"
    assert by_env.json()["project"]["name"] == "other"


def test_a_missing_config_file_is_bad_input(tmp_path: Path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("config", "validate")
    assert result.exit_code == 2
    assert "no mlops.yaml" in result.stderr
    assert "--config" in result.stderr


def test_errors_in_json_mode_are_json_on_stdout(tmp_path: Path, cli):
    result = cli("--output", "json", "--config", str(tmp_path / "absent.yaml"), "config", "show")
    assert result.exit_code == 2
    assert result.json()["error"] == "ConfigError"


def test_schema_is_the_committed_json_schema(cli):
    result = cli("config", "schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "mlops.yaml"


def test_the_console_script_runs_the_main_job_of_this_issue():
    for args in (["--help"], ["config", "validate"], ["config", "schema"]):
        done = subprocess.run(
            [sys.executable, "-m", "mlops", *args], cwd=REPO, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr


def test_bad_input_exits_2_and_failed_operations_exit_1():
    from mlops.cli._group import exit_code
    from mlops.errors import ConfigError, MlopsError

    assert exit_code(ConfigError("bad mlops.yaml")) == 2
    assert exit_code(MlopsError("Azure refused")) == 1


def test_an_unreadable_config_is_reported_without_a_traceback(tmp_path: Path, cli):
    result = cli("--config", str(tmp_path), "config", "validate")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
