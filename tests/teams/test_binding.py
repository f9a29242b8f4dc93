"""A model repository bound to a platform: validated together, every error in its own file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.config import load_config
from mlops.errors import ConfigError
from tests.conftest import run_cli


def errors_of(path: Path | str = "mlops.yaml") -> list:
    with pytest.raises(ConfigError) as caught:
        load_config(Path(path).resolve())
    return [i for i in caught.value.issues if i.severity == "error"]


def test_a_model_repository_gets_the_platform_sections_and_keeps_its_own(workspace):
    loaded = load_config(Path("mlops.yaml").resolve())
    config = loaded.config
    assert config.project.name == "fraud"
    assert config.azure.name_prefix == "ct"  # the platform's
    assert config.environments.names == ["local", "dev", "prod"]
    assert config.deployment.instance_count == 2  # the model's
    assert config.platform is not None and config.platform.team == "fraud"
    assert config.teams["fraud"].quotas.cores == {"dev": 24, "prod": 8}
    assert config.devops.repository == "fraud"  # this repository, not the platform's
    # the platform's resource groups (named after its project, core), not ones of its own
    assert config.environments.azure["dev"].resource_group == "rg-ct-core-dev"
    assert config.azure.shared_resource_group == "rg-ct-core-shared"


def test_validate_names_the_platform_and_team(workspace):
    result = run_cli("config", "validate", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["platform"] == {"file": "../platform/mlops.yaml", "team": "fraud"}
    text = run_cli("config", "validate")
    assert "of team 'fraud' on the platform ../platform/mlops.yaml" in text.stderr


def test_show_prints_the_merged_config_and_says_where_each_part_comes_from(workspace):
    shown = run_cli("config", "show", "-o", "json").json()
    assert shown["azure"]["name_prefix"] == "ct"
    assert shown["deployment"]["instance_count"] == 2
    assert shown["platform"]["path"] == "../platform/mlops.yaml"
    text = run_cli("config", "show").stdout
    assert text.startswith(
        "# platform sections from ../platform/mlops.yaml, project sections from mlops.yaml\n"
    )


def test_a_platform_section_in_a_model_repository_belongs_in_the_platform_repository(
    workspace, edit
):
    edit("fraud", "deployment:", "network: {mode: vnet}\ndeployment:")
    (issue,) = errors_of()
    assert (issue.file, issue.line, issue.column) == ("mlops.yaml", 5, 1)
    assert (
        issue.message == "'network' belongs in the platform repository, not in a model repository"
    )


def test_an_undeclared_team_is_reported_on_the_model_file_with_the_closest_team(workspace, edit):
    edit("fraud", "team: fraud", "team: frod")
    (issue,) = errors_of()
    assert (issue.file, issue.path, issue.line) == ("mlops.yaml", "platform.team", 4)
    assert issue.message == "team 'frod' is not declared in ../platform/mlops.yaml"
    assert "did you mean 'fraud'?" in (issue.hint or "")


def test_a_repository_the_team_does_not_own_is_refused(workspace, edit):
    edit("fraud", "  team: fraud", "  team: fraud\n  model_repository: scoring")
    (issue,) = errors_of()
    assert issue.path == "platform.model_repository"
    assert "repository 'scoring' is not one team 'fraud' owns" in issue.message
    assert "teams.fraud.repositories in ../platform/mlops.yaml" in (issue.hint or "")


def test_model_repository_names_a_repository_the_team_owns(workspace, edit):
    edit("fraud", "  team: fraud", "  team: fraud\n  model_repository: fraud-batch")
    assert load_config(Path("mlops.yaml").resolve()).config.devops.repository == "fraud-batch"


def test_errors_in_the_platform_file_point_into_the_platform_file(workspace, edit):
    edit("platform", "cores: {dev: 24, prod: 8}", "cores: {dev: 24, staging: 8}")
    (issue,) = errors_of()
    assert (issue.file, issue.path, issue.line) == (
        "../platform/mlops.yaml",
        "teams.fraud.quotas.cores.staging",
        20,
    )
    result = run_cli("config", "validate")
    assert result.exit_code == 2
    assert "../platform/mlops.yaml:20:" in result.stderr
    assert "mlops.yaml is invalid: 1 error, in mlops.yaml, ../platform/mlops.yaml" in result.stderr


def test_model_errors_point_into_the_model_file(workspace, edit):
    edit("fraud", "instance_count: 2", "instance_count: 0")
    (issue,) = errors_of()
    assert (issue.file, issue.path, issue.line) == ("mlops.yaml", "deployment.instance_count", 6)


def test_a_platform_problem_in_merged_settings_points_at_the_platform_line(workspace, edit):
    # the platform file is valid on its own; the model's own project name makes its names
    # too long, which is the model file's problem: each error says so in its file
    edit("fraud", "name: fraud", "name: fraudulenttransactions")
    errors = errors_of()
    assert errors and {i.file for i in errors} == {"mlops.yaml"}


def test_a_missing_platform_file_is_reported_where_the_model_names_it(workspace, edit):
    edit("fraud", "../platform/mlops.yaml", "../platfrom/mlops.yaml")
    (issue,) = errors_of()
    assert (issue.file, issue.path, issue.line) == ("mlops.yaml", "platform.path", 3)
    assert "../platfrom/mlops.yaml does not exist" in issue.message


def test_a_platform_cannot_itself_name_a_platform(workspace):
    platform = workspace / "platform" / "mlops.yaml"
    platform.write_text(
        platform.read_text() + "platform: {path: ../fraud/mlops.yaml, team: fraud}\n"
    )
    (issue,) = errors_of()
    assert (issue.file, issue.path) == ("../platform/mlops.yaml", "platform")
    assert issue.message == "a platform's mlops.yaml cannot itself name a platform"


def test_a_bad_binding_is_reported_on_the_model_file(workspace, edit):
    edit("fraud", "team: fraud", "team: Fraud Team")
    (issue,) = errors_of()
    assert (issue.file, issue.path, issue.line) == ("mlops.yaml", "platform.team", 4)
    assert "lowercase letters or digits" in issue.message


def test_a_platform_cannot_give_two_teams_the_same_repository(workspace):
    platform = workspace / "platform" / "mlops.yaml"
    platform.write_text(platform.read_text() + "  risk:\n    repositories: [Fraud]\n")
    (issue,) = errors_of(platform)
    assert issue.path == "teams.risk.repositories.0"
    assert issue.message == "repository 'Fraud' is already owned by team 'fraud'"


def test_quotas_name_only_the_platforms_environments(workspace, edit):
    edit("platform", "endpoint_instances: {prod: 4}", "endpoint_instances: {test: 4}")
    (issue,) = errors_of(workspace / "platform" / "mlops.yaml")
    assert issue.path == "teams.fraud.quotas.endpoint_instances.test"
    assert issue.line == 21
    assert issue.hint == "quotas are per Azure environment: one of 'dev', 'prod'"


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("risk", True),
        ("a1", True),
        ("abcdefghijkl", True),
        ("x", False),
        ("Fraud", False),
        ("fraud-ops", False),
        ("1fraud", False),
        ("abcdefghijklm", False),
    ],
)
def test_team_names_are_short_lowercase_words_because_they_go_into_resource_names(
    workspace, name, valid
):
    platform = workspace / "platform" / "mlops.yaml"
    platform.write_text(platform.read_text() + f"  {name}: {{}}\n")
    if valid:
        assert name in load_config(platform).config.teams
    else:
        (issue,) = errors_of(platform)
        assert issue.path == f"teams.{name}"


def test_a_platform_without_teams_and_a_project_without_platform_are_todays_config(tmp_path):
    path = tmp_path / "mlops.yaml"
    path.write_text("project: {name: churn}\n")
    config = load_config(path).config
    assert config.teams == {} and config.platform is None
    assert config.devops.repository == "churn"


def test_a_model_file_naming_itself_as_its_platform_is_refused(workspace, edit):
    edit("fraud", "../platform/mlops.yaml", "mlops.yaml")
    (issue,) = errors_of()
    assert (issue.file, issue.path) == ("mlops.yaml", "platform.path")
    assert issue.message == "mlops.yaml names itself as its platform"


def test_team_identities_name_only_the_platforms_environments(workspace):
    platform = workspace / "platform" / "mlops.yaml"
    guid = "44444444-4444-4444-4444-444444444444"
    platform.write_text(
        platform.read_text()
        + f"    identities:\n      staging: {{client_id: {guid}, object_id: {guid}}}\n"
    )
    (issue,) = errors_of(platform)
    assert issue.path == "teams.fraud.identities.staging"


def test_the_platforms_warnings_about_its_own_model_do_not_reach_model_repositories(
    workspace, edit
):
    edit("platform", "project: {name: core}", "project: {name: core}\nmodel: {primary_metric: auc}")
    platform = load_config(workspace / "platform" / "mlops.yaml")
    assert platform.warnings and all(w.path.startswith("model.") for w in platform.warnings)
    assert load_config(Path("mlops.yaml").resolve()).warnings == []


def test_the_platform_ref_is_a_full_branch_or_tag_name(workspace, edit):
    edit("fraud", "  team: fraud", "  team: fraud\n  repository: platform\n  ref: main")
    (issue,) = errors_of()
    assert (issue.path, issue.line) == ("platform.ref", 6)
    assert "refs/heads/<branch> or refs/tags/<tag>" in issue.message
    edit("fraud", "ref: main", "ref: refs/tags/v2")
    binding = load_config(Path("mlops.yaml").resolve()).config.platform
    assert binding is not None and (binding.repository, binding.ref) == ("platform", "refs/tags/v2")
