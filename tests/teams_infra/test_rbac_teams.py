"""RBAC per team: a team's people and pipelines hold roles only on the team's own
workspaces, storage and AKS namespace; another team's jobs, models, endpoints and namespace
are out of reach, as Azure would decide it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.rbac.check import check
from mlops.rbac.model import role_model
from tests.conftest import run_cli
from tests.teams_infra.conftest import loaded

MLS = "Microsoft.MachineLearningServices/workspaces"
AKS = "Microsoft.ContainerService/managedClusters"


@pytest.fixture
def platform(tmp_path: Path):
    return loaded("teams-aks", tmp_path)


def _allowed(platform, persona: str, operation: str, env: str, team: str, on: str) -> bool:
    model = role_model(platform.config)
    verdict = check(platform.config, model, persona, operation, env, team=team, target_team=on)
    return verdict.allowed


@pytest.mark.parametrize(
    "operation",
    [
        f"{MLS}/read",  # see the workspace
        f"{MLS}/jobs/read",  # see its jobs
        f"{MLS}/jobs/write",  # submit or change a job
        f"{MLS}/models/read",
        f"{MLS}/models/write",
    ],
)
def test_a_data_scientist_works_in_the_own_teams_workspace_and_not_in_another(
    platform, operation: str
) -> None:
    assert _allowed(platform, "data_scientists", operation, "dev", "fraud", "fraud")
    assert not _allowed(platform, "data_scientists", operation, "dev", "fraud", "churn")


def test_another_teams_storage_is_out_of_reach_of_a_data_scientist(platform) -> None:
    read = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
    assert _allowed(platform, "data_scientists", read, "dev", "fraud", "fraud")
    assert not _allowed(platform, "data_scientists", read, "dev", "fraud", "churn")


@pytest.mark.parametrize(
    "operation", [f"{MLS}/onlineEndpoints/read", f"{MLS}/onlineEndpoints/write"]
)
def test_another_teams_endpoints_cannot_be_seen_or_changed(platform, operation: str) -> None:
    for persona in ("data_scientists", "engineers", "pipelines"):
        assert not _allowed(platform, persona, operation, "prod", "fraud", "churn"), persona
    # its own pipelines deploy the team's endpoints; its data scientists only read them
    assert _allowed(platform, "pipelines", f"{MLS}/onlineEndpoints/write", "prod", "fraud", "fraud")
    assert not _allowed(
        platform, "data_scientists", f"{MLS}/onlineEndpoints/write", "prod", "fraud", "fraud"
    )


@pytest.mark.parametrize(
    "operation",
    [f"{AKS}/pods/read", f"{AKS}/apps/deployments/read", f"{AKS}/apps/deployments/write"],
)
def test_another_teams_namespace_is_out_of_reach(platform, operation: str) -> None:
    for persona in ("data_scientists", "engineers", "pipelines"):
        assert not _allowed(platform, persona, operation, "prod", "fraud", "churn"), persona


def test_a_teams_pipelines_follow_their_rollout_in_their_own_namespace_only(platform) -> None:
    assert _allowed(platform, "pipelines", f"{AKS}/pods/read", "prod", "fraud", "fraud")
    assert not _allowed(platform, "pipelines", f"{AKS}/pods/write", "prod", "fraud", "fraud")


def test_no_team_grant_sits_on_a_resource_group_where_it_would_reach_every_team(
    platform,
) -> None:
    model = role_model(platform.config)
    team_grants = [g for g in model.grants if g.team]
    assert team_grants
    assert not [g for g in team_grants if g.scope.kind == "resource_group"]
    # the registry is the one shared scope: Azure assigns no role below a registry
    shared = {g.scope.kind for g in team_grants if g.env == "shared"}
    assert shared == {"registry"}
    assert {g.role.name for g in team_grants if g.env == "shared"} == {
        "acme-lending Registry Reader"
    }


def test_each_teams_principals_get_assignments_and_owners_may_assign_to_them(platform) -> None:
    model = role_model(platform.config)
    fraud = {
        (a.principal.name, a.grant.scope.label)
        for a in model.assignments
        if a.grant.team == "fraud" and a.grant.env == "dev"
    }
    assert ("sg-fraud-ds", "workspace " + _ws(platform, "fraud", "dev")) in fraud
    assert ("fraud-pipelines-dev", "workspace " + _ws(platform, "fraud", "dev")) in fraud
    condition = next(
        g.condition() for g in model.grants if g.persona == "platform_owners" and g.assignable
    )
    assert "0c000000-0000-4000-8000-00000000f001" in condition  # sg-fraud-ds


def _ws(platform, team: str, env: str) -> str:
    from mlops.rbac.teams import names

    return names(platform.config, env, team).workspace


def test_rbac_check_answers_per_team_and_exits_3_when_denied(platform) -> None:
    config = str(platform.path)
    jobs = f"{MLS}/jobs/write"

    own = run_cli(
        "-c", config, "rbac", "check", "data-scientists", jobs, "-e", "dev", "--team", "fraud"
    )
    other = run_cli(
        "-c", config, "-o", "json", "rbac", "check", "data-scientists", jobs, "-e", "dev",
        "--team", "fraud", "--on-team", "churn",
    )  # fmt: skip

    assert own.exit_code == 0, own.stderr
    assert "team fraud's data_scientists may perform" in own.stdout
    assert other.exit_code == 3
    verdict = json.loads(other.stdout)
    assert verdict["team"] == "fraud" and verdict["target_team"] == "churn"
    assert verdict["scope"].endswith("/workspaces/" + _ws(platform, "churn", "dev"))


def test_rbac_check_refuses_an_undeclared_team_and_a_platform_only_persona(platform) -> None:
    config = str(platform.path)
    op = f"{MLS}/jobs/write"

    unknown = run_cli(
        "-c", config, "rbac", "check", "data_scientists", op, "-e", "dev", "--team", "ops"
    )
    persona = run_cli("-c", config, "rbac", "check", "training", op, "-e", "dev", "--team", "fraud")

    assert unknown.exit_code == 2 and "team 'ops' is not declared" in unknown.stderr
    assert persona.exit_code == 2 and "data_scientists, engineers, pipelines" in persona.stderr


def test_rbac_matrix_shows_each_teams_scopes_and_filters_by_team(platform) -> None:
    config = str(platform.path)

    everything = json.loads(run_cli("-c", config, "-o", "json", "rbac", "matrix").stdout)
    churn = run_cli("-c", config, "rbac", "matrix", "--team", "churn", "-o", "markdown").stdout

    assert {r["team"] for r in everything} == {None, "churn", "fraud", "risk"}
    assert churn.startswith("| team | persona | env | scope | role | held by |")
    rows = [line for line in churn.splitlines() if line.startswith("| churn |")]
    assert rows and all("churn" in r or "mlr-acme-lending" in r for r in rows)
    assert "fraud" not in churn


@pytest.mark.parametrize(
    "operation",
    [
        f"{MLS}/read",
        f"{MLS}/jobs/read",
        f"{MLS}/models/read",
        f"{MLS}/onlineEndpoints/read",
        f"{AKS}/pods/read",
    ],
)
@pytest.mark.parametrize("env", ["test", "prod"])
def test_the_platforms_own_data_scientists_see_no_teams_workspace_in_test_or_prod(
    platform, operation: str, env: str
) -> None:
    model = role_model(platform.config)
    for team in ("fraud", "churn", "risk"):
        verdict = check(platform.config, model, "data_scientists", operation, env, target_team=team)
        assert not verdict.allowed, (team, verdict.to_dict())
    # they still see what runs in the platform's own workspace there
    if operation.startswith(MLS):
        assert check(platform.config, model, "data_scientists", operation, env).allowed


def test_with_teams_the_platforms_data_scientists_read_the_workspace_not_the_resource_group(
    platform, tmp_path: Path
) -> None:
    def reader_scopes(config) -> set[tuple[str, str]]:
        return {
            (g.env, g.scope.kind)
            for g in role_model(config).grants
            if g.persona == "data_scientists" and g.team is None and g.env in ("test", "prod")
        }

    assert reader_scopes(platform.config) == {("test", "workspace"), ("prod", "workspace")}
    # without teams the resource group holds only the platform's workspace: Reader stays there
    alone = loaded("kubernetes", tmp_path / "alone")
    assert reader_scopes(alone.config) == {("test", "resource_group"), ("prod", "resource_group")}


def test_rbac_check_denies_a_platform_data_scientist_on_a_teams_workspace(platform) -> None:
    jobs = f"{MLS}/jobs/read"
    config = str(platform.path)

    denied = run_cli(
        "-c", config, "rbac", "check", "data_scientists", jobs, "-e", "test", "--on-team", "fraud"
    )
    allowed = run_cli("-c", config, "rbac", "check", "data_scientists", jobs, "-e", "test")

    assert denied.exit_code == 3, denied.stdout + denied.stderr
    assert allowed.exit_code == 0, allowed.stdout + allowed.stderr
