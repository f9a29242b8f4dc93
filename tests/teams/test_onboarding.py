"""`mlops team add|remove` edit the platform's mlops.yaml in place, or refuse and write
nothing; `mlops teams list` shows teams, quotas and the usage readable without Azure."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mlops.config import load_config
from tests.conftest import REPO, run_cli

RISK_DS = "33333333-3333-3333-3333-333333333333"


@pytest.fixture
def platform(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The platform's mlops.yaml; the current folder is the platform repository."""
    monkeypatch.chdir(workspace / "platform")
    return workspace / "platform" / "mlops.yaml"


def files_beside(platform: Path) -> list[str]:
    """The platform repository's files, but for the local state folder (.mlops, ignored by
    git), which holds the edit lock."""
    return sorted(p.name for p in platform.parent.iterdir() if p.name != ".mlops")


def add_risk(*extra: str):
    return run_cli(
        "team",
        "add",
        "risk",
        "--data-scientists",
        f"sg-risk-ds={RISK_DS}",
        "--repository",
        "credit-risk",
        "--contact",
        "risk@contoso.com",
        "--cores",
        "dev=16",
        "--endpoint-instances",
        "prod=2",
        "--budget",
        "800",
        *extra,
    )


def test_add_appends_the_team_and_keeps_every_line_of_the_file_as_written(platform):
    before = platform.read_text()
    result = add_risk("--identity", f"prod={RISK_DS}:{RISK_DS}")
    assert result.exit_code == 0, result.stderr
    after = platform.read_text()
    assert after.startswith(before)  # comments, order, flow style and quoting kept
    assert after[len(before) :] == (
        "  risk:\n"
        "    data_scientists:\n"
        "      - name: sg-risk-ds\n"
        f"        object_id: {RISK_DS}\n"
        "    repositories: [credit-risk]\n"
        "    contacts: [risk@contoso.com]\n"
        "    quotas:\n"
        "      cores: {dev: 16}\n"
        "      endpoint_instances: {prod: 2}\n"
        "      monthly_budget: 800\n"
        "    identities:\n"
        f"      prod: {{client_id: {RISK_DS}, object_id: {RISK_DS}}}\n"
    )
    risk = load_config(platform).config.teams["risk"]
    assert risk.quotas.monthly_budget == 800 and risk.repositories == ["credit-risk"]


def test_the_reference_platforms_commented_file_keeps_its_comments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / "mlops.yaml", tmp_path / "mlops.yaml")
    before = (tmp_path / "mlops.yaml").read_text()
    assert run_cli("team", "add", "risk", "--repository", "credit-risk").exit_code == 0
    after = (tmp_path / "mlops.yaml").read_text()
    assert after == before + "teams:\n  risk:\n    repositories: [credit-risk]\n"
    assert "# --- model project: owned by this repository's data scientists" in after
    assert run_cli("team", "remove", "risk").exit_code == 0
    assert (tmp_path / "mlops.yaml").read_text() == before + "teams: {}\n"


def test_remove_takes_out_exactly_the_team_it_added(platform):
    before = platform.read_text()
    assert add_risk().exit_code == 0
    result = run_cli("team", "remove", "risk")
    assert result.exit_code == 0, result.stderr
    assert platform.read_text() == before


def test_add_reports_what_it_wrote_as_json(platform):
    result = add_risk("--output", "json")
    assert result.exit_code == 0
    assert result.json() == {
        "ok": True,
        "action": "added",
        "team": "risk",
        "file": "mlops.yaml",
        "definition": {
            "data_scientists": [{"name": "sg-risk-ds", "object_id": RISK_DS}],
            "repositories": ["credit-risk"],
            "contacts": ["risk@contoso.com"],
            "quotas": {
                "cores": {"dev": 16},
                "endpoint_instances": {"prod": 2},
                "monthly_budget": 800.0,
            },
        },
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["team", "add", "fraud"], "team 'fraud' already exists (mlops.yaml:10:3)"),
        (["team", "add", "Risk"], "'Risk' cannot be a team name"),
        (
            ["team", "add", "risk", "--cores", "staging=4"],
            "--cores names 'staging', which is not an Azure environment of mlops.yaml",
        ),
        (
            ["team", "add", "risk", "--engineers", "sg-risk-eng=not-a-guid"],
            "--engineers 'sg-risk-eng=not-a-guid': object_id: expected a GUID",
        ),
        (["team", "add", "risk", "--engineers", "sg-risk-eng"], "is not NAME=OBJECT_ID"),
        (["team", "add", "risk", "--cores", "dev=many"], "--cores 'dev=many' is not ENV=N"),
        (["team", "add", "risk", "--contact", "risk"], "--contact 'risk': expected an email"),
        (["team", "add", "risk", "--budget", "0"], "--budget '0.0': "),
        (
            ["team", "add", "risk", "--repository", "Fraud-Batch"],
            "--repository 'Fraud-Batch' is already owned by team 'fraud'",
        ),
        (["team", "add", "risk", "--identity", "dev=nope"], "is not ENV=CLIENT_ID:OBJECT_ID"),
        (
            ["team", "add", "risk", "--identity", f"staging={RISK_DS}:{RISK_DS}"],
            "--identity names 'staging', which is not an Azure environment of mlops.yaml",
        ),
        (
            ["team", "add", "risk", "--identity", f"dev=x:{RISK_DS}"],
            f"--identity 'dev=x:{RISK_DS}': dev.client_id: expected a GUID",
        ),
        (["team", "remove", "frawd"], "no team 'frawd' in mlops.yaml"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(platform, args, message):
    before, stamp = platform.read_bytes(), platform.stat().st_mtime_ns
    result = run_cli(*args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert platform.read_bytes() == before and platform.stat().st_mtime_ns == stamp
    assert files_beside(platform) == ["mlops.yaml"]  # no temp file


def test_an_invalid_platform_file_is_refused_before_any_edit(platform):
    platform.write_text(platform.read_text().replace("teams:\n", "teams: {}\nold_teams:\n"))
    before = platform.read_bytes()
    result = run_cli("team", "add", "risk")
    assert result.exit_code == 2
    assert "mlops.yaml:9:1: error: old_teams: unknown key 'old_teams'" in result.stderr
    assert platform.read_bytes() == before


def test_the_edit_replaces_the_file_atomically_and_keeps_its_mode(platform):
    os.chmod(platform, 0o640)
    inode = platform.stat().st_ino
    assert add_risk().exit_code == 0
    assert platform.stat().st_mode & 0o777 == 0o640
    assert platform.stat().st_ino != inode  # a new file renamed over the old, never truncated
    assert files_beside(platform) == ["mlops.yaml"]


def test_team_commands_refuse_a_model_repository(workspace):
    result = run_cli("team", "add", "risk")
    assert result.exit_code == 2
    assert "is a model repository's config, bound to the platform ../platform/mlops.yaml" in (
        result.stderr
    )
    assert "mlops -c ../platform/mlops.yaml team" in result.stderr


def test_teams_list_shows_quotas_and_the_endpoint_instances_checked_out_repositories_use(
    platform,
):
    listed = run_cli("teams", "list", "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    (fraud,) = listed.json()["teams"]
    assert fraud["name"] == "fraud"
    assert fraud["repositories"] == ["fraud", "fraud-batch"]
    assert fraud["quotas"] == {
        "cores": {"dev": 24, "prod": 8},
        "endpoint_instances": {"prod": 4},
        "instance_type": None,  # Azure ML's default instance type
        "monthly_budget": 1500.0,
    }
    # ../fraud is checked out and bound to this platform: 2 instances in prod, where CD
    # deploys (every environment after the first); cores in use only Azure knows
    assert fraud["usage"] == {
        "endpoint_instances": {"prod": 2},
        "cores": None,
        "repositories_read": ["fraud"],
        "repositories_not_found": ["fraud-batch"],
    }
    table = run_cli("teams", "list")
    assert table.exit_code == 0
    assert "prod: 2/4" in table.stdout and "dev: ?/24" in table.stdout
    assert "fraud-batch (not checked out)" in table.stdout
    assert "1500/month" in table.stdout


def test_a_checkout_bound_to_another_team_is_not_counted(platform, workspace, edit):
    edit(
        "platform", "  # fraud detection", "  risk:\n    repositories: [risk]\n  # fraud detection"
    )
    edit("fraud", "team: fraud", "team: risk\n  model_repository: risk")
    usage = run_cli("teams", "list", "-o", "json").json()["teams"][1]["usage"]
    assert usage["repositories_read"] == [] and usage["endpoint_instances"] == {}


def test_a_team_added_after_the_last_was_removed_is_written_in_block_style(platform):
    assert run_cli("team", "remove", "fraud").exit_code == 0
    assert platform.read_text().endswith("teams: {}\n")
    assert run_cli("team", "add", "risk", "--repository", "credit-risk").exit_code == 0
    assert platform.read_text().endswith("teams:\n  risk:\n    repositories: [credit-risk]\n")


def test_a_file_indented_by_four_keeps_its_indentation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = (
        "project:\n    name: core\n"
        "environments:\n    dev: {}\n    prod:\n        approval:\n"
        "            approvers:\n                - platform_engineers\n"
    )
    (tmp_path / "mlops.yaml").write_text(before)
    result = run_cli("team", "add", "risk", "--cores", "prod=4")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "mlops.yaml").read_text() == (
        before + "teams:\n    risk:\n        quotas:\n            cores: {prod: 4}\n"
    )


COMMENTED = """\
project: {name: core}
environments:
  dev: {}
teams:  # the platform's teams
  # fraud detection, onboarded first
  fraud:
    repositories: [fraud]
    quotas:
      cores: {dev: 24}  # agreed in March
  # credit risk
  risk:
    repositories: [risk]
  # operations
  ops:
    repositories: [ops]
# the model project's sections follow
"""


@pytest.mark.parametrize("team", ["fraud", "risk", "ops"])
def test_removing_a_team_takes_its_own_comment_and_leaves_every_other_line(
    team, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlops.yaml").write_text(COMMENTED)
    result = run_cli("team", "remove", team)
    assert result.exit_code == 0, result.stderr
    lines = COMMENTED.splitlines(keepends=True)
    first = {"fraud": 4, "risk": 9, "ops": 12}[team]
    last = {"fraud": 9, "risk": 12, "ops": 15}[team]
    assert (tmp_path / "mlops.yaml").read_text() == "".join(lines[:first] + lines[last:])


def test_removing_every_team_leaves_an_empty_section_with_its_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlops.yaml").write_text(COMMENTED)
    for team in ("risk", "fraud", "ops"):
        assert run_cli("team", "remove", team).exit_code == 0
    assert (tmp_path / "mlops.yaml").read_text() == (
        "project: {name: core}\nenvironments:\n  dev: {}\n"
        "teams: {}  # the platform's teams\n# the model project's sections follow\n"
    )


def test_removing_a_team_from_a_one_line_teams_section_keeps_it_on_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    head = "project: {name: core}\nenvironments:\n  dev: {}\n"
    (tmp_path / "mlops.yaml").write_text(head + "teams: {fraud: {}, risk: {repositories: [r]}}\n")
    assert run_cli("team", "remove", "fraud").exit_code == 0
    assert (tmp_path / "mlops.yaml").read_text() == head + "teams: {risk: {repositories: [r]}}\n"
    assert run_cli("team", "remove", "risk").exit_code == 0
    assert (tmp_path / "mlops.yaml").read_text() == head + "teams: {}\n"
