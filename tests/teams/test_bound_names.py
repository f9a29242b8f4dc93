"""A bound model repository works on what its platform provisions: the team's workspace
and storage in each environment, the platform's registry, Key Vault and agents, the same
names the platform's own templates give them."""

from __future__ import annotations

from pathlib import Path

from mlops import naming
from mlops.config import load_config


def test_a_bound_repository_targets_its_teams_workspace_and_the_platforms_registry(workspace):
    bound = load_config(Path("mlops.yaml").resolve()).config
    platform = load_config((workspace / "platform" / "mlops.yaml").resolve()).config

    for env in ("dev", "prod"):
        team = naming.team_names(
            prefix="ct",
            project="core",
            env=env,
            team="fraud",
            resource_group=f"rg-ct-core-{env}",
            subscription_id=None,
        )
        names = bound.environment_names(env)
        assert names.workspace == team.workspace
        assert names.storage_account == team.storage_account
        # the rest is the platform's, never a resource named after the model project
        theirs = platform.environment_names(env)
        assert names.key_vault == theirs.key_vault
        assert names.container_registry == theirs.container_registry
        assert names.resource_group == theirs.resource_group
        assert names.agent_pool == theirs.agent_pool
    assert bound.shared_names() == platform.shared_names()


def test_an_unbound_repository_keeps_its_own_names(tmp_path: Path):
    path = tmp_path / "mlops.yaml"
    path.write_text("project: {name: churn}\n", encoding="utf-8")
    config = load_config(path).config
    assert config.environment_names("dev").workspace.startswith("mlw-churn-dev")


def test_a_bound_repository_renders_its_pipelines_and_no_infrastructure(workspace):
    from mlops.render.files import render

    bound = load_config(Path("mlops.yaml").resolve()).config
    paths = [f.path for f in render(bound)]
    assert paths and all(p.startswith(".azuredevops/") for p in paths)
    assert not any(p.endswith("infra.yml") for p in paths)
