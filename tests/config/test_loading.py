"""Loading mlops.yaml: discovery, defaults and the derived values `config show` prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.config import find_config, load_config
from mlops.errors import ConfigError
from tests.conftest import REPO


def test_a_project_name_alone_is_a_valid_config_for_the_local_environment(project):
    loaded = load_config(project("project: {name: churn}\n"))
    config = loaded.config
    assert config.environments.names == ["local", "dev", "test", "prod"]
    assert config.environments.local.state_dir == ".mlops"
    assert config.network.mode == "managed"
    assert config.model is None


def test_defaults_that_depend_on_other_fields_are_filled_in(project):
    config = load_config(
        project(
            """
            project: {name: churn}
            azure: {name_prefix: contoso}
            environments:
              dev: {}
              prod: {resource_group: rg-prod, approval: {approvers: [platform_owners]}}
            model: {primary_metric: roc_auc}
            """
        )
    ).config
    assert config.environments.azure["dev"].resource_group == "rg-contoso-churn-dev"
    assert config.environments.azure["prod"].resource_group == "rg-prod"
    assert config.devops.repository == "churn"
    assert config.devops.agent_pool == "mdp-contoso-churn-dev"  # the first env's pool
    assert config.model is not None and config.model.name == "churn"
    assert config.deployment.endpoint_name == "churn-online"


def test_declared_environments_replace_the_default_dev_test_prod(project):
    config = load_config(project("project: {name: churn}\nenvironments: {staging: {}}\n")).config
    assert config.environments.names == ["local", "staging"]


def test_guids_are_normalised_to_lowercase(project):
    config = load_config(
        project(
            """
            project: {name: churn}
            azure: {tenant_id: AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE}
            """
        )
    ).config
    assert config.azure.tenant_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def test_config_is_found_in_a_parent_folder(project, tmp_path: Path):
    path = project("project: {name: churn}\n")
    nested = tmp_path / "src" / "deep"
    nested.mkdir(parents=True)
    assert find_config(nested) == path


def test_a_missing_config_names_the_folder_and_how_to_start(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        find_config(tmp_path)
    assert str(tmp_path) in caught.value.message
    assert "project:" in (caught.value.hint or "")


def test_warnings_do_not_fail_the_load(project):
    loaded = load_config(project("project: {name: churn}\nenvironments: {dev: {}, prod: {}}\n"))
    assert [w.path for w in loaded.warnings] == ["environments.prod"]
    assert loaded.warnings[0].line == 2


def test_the_repository_config_is_valid():
    loaded = load_config(REPO / "mlops.yaml")
    assert loaded.config.project.name == "diagnosis"
    assert loaded.warnings == []


def test_where_points_into_the_file(project):
    loaded = load_config(project("project:\n  name: churn\ncompute:\n  clusters:\n    gpu: {}\n"))
    assert loaded.where("compute", "clusters", "gpu") == "mlops.yaml:5:5"
    assert loaded.where("compute", "clusters", "gpu", "size") == "mlops.yaml:5:5"


def test_files_the_config_names_but_that_do_not_exist_are_warnings(project, tmp_path: Path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "train.yml").write_text("type: pipeline\n")
    loaded = load_config(
        project(
            """
            project: {name: churn}
            data:
              churn-raw: {local_path: data/churn.csv}
            model: {primary_metric: roc_auc, scoring_script: src/score.py}
            """
        )
    )
    assert {w.path: w.line for w in loaded.warnings} == {
        "data.churn-raw.local_path": 4,
        "model.scoring_script": 5,
    }


@pytest.mark.parametrize(
    ("target", "token"), [("managed", "aad_token"), ("kubernetes", "aml_token")]
)
def test_endpoints_authenticate_with_the_token_their_target_supports(project, target, token):
    """Microsoft: Entra tokens work on managed online endpoints only; Kubernetes ones take an
    Azure ML token. Keys are refused: the deployment identity holds no right to list them."""
    base = f"project: {{name: churn}}\ndeployment: {{target: {target}, instance_type: x"
    size = "Standard_DS3_v2" if target == "managed" else "defaultinstancetype"
    config = load_config(project(base.replace("x", size) + "}\n")).config
    assert config.deployment.effective_auth_mode == token

    other = "aad_token" if target == "kubernetes" else None
    for refused in ("key", other):
        if refused is None:
            continue
        text = base.replace("x", size) + f", auth_mode: {refused}}}\n"
        with pytest.raises(ConfigError) as failed:
            load_config(project(text))
        (issue,) = [i for i in failed.value.issues if "auth_mode" in str(i.path)]
        assert token in (issue.hint or "")
