"""With `teams:`, each environment's template holds each team's own workspace and storage in
the shared network; without it, nothing of this exists and the templates stay as they were."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlops.plan.changes import ResourceChange
from mlops.plan.teams import Attribution
from mlops.render.infra.teams import TEAM_TAG
from tests.conftest import run_cli
from tests.teams_infra.conftest import CONFIGS, files, loaded, resources, templates

WORKSPACES = "Microsoft.MachineLearningServices/workspaces"
STORAGE = "Microsoft.Storage/storageAccounts"
ENDPOINTS = "Microsoft.Network/privateEndpoints"
COMPUTES = "Microsoft.MachineLearningServices/workspaces/computes"
EXISTING = sorted(p.stem for p in CONFIGS.glob("*.yaml") if not p.stem.startswith("teams"))


def _team_of(resource: dict) -> str | None:
    return (resource.get("tags") or {}).get(TEAM_TAG)


@pytest.mark.parametrize("name", EXISTING)
def test_without_teams_no_team_resource_file_or_cluster_setting_is_rendered(
    name: str, tmp_path: Path
) -> None:
    plain = loaded(name, tmp_path / "plain")
    empty = loaded(name, tmp_path / "empty", "teams: {}\n")

    assert files(plain) == files(empty)
    rendered = files(plain)
    assert not [p for p in rendered if "/kubernetes/" in p]
    assert TEAM_TAG not in "".join(rendered.values())
    assert "oidcIssuerProfile" not in "".join(rendered.values())


@pytest.mark.parametrize("name", ["teams", "teams-aks"])
def test_teams_only_add_resources_the_platform_ones_stay_as_they_were(
    name: str, tmp_path: Path
) -> None:
    with_teams = loaded(name, tmp_path / "with")
    source = (CONFIGS / f"{name}.yaml").read_text()
    without = loaded(name, tmp_path / "without")
    without.path.write_text(source[: source.index("\nteams:")] + "\n")
    from mlops.config.loader import load_config

    without = load_config(without.path)
    teams_of = Attribution(with_teams.config)
    for env, template in templates(with_teams).items():
        platform = [
            r
            for r in template["resources"]
            if teams_of.team_of(ResourceChange("create", r["type"], r["name"])) is None
            and not (
                r["type"].startswith("Microsoft.KubernetesConfiguration/")
                and r["name"] in ("flux", "teams")
            )
        ]
        before = templates(without)[env]["resources"]
        for resource in platform:
            if resource["type"] == "Microsoft.ContainerService/managedClusters":
                # Flux pulls the namespaces with workload identity: the cluster issues tokens
                properties = dict(resource["properties"])
                assert properties.pop("oidcIssuerProfile") == {"enabled": True}
                assert properties.pop("securityProfile") == {"workloadIdentity": {"enabled": True}}
                resource = {**resource, "properties": properties}
            assert resource in before, f"{env}: {resource['type']} {resource['name']} changed"
        assert len(platform) == len(before)


def test_each_team_gets_a_workspace_and_storage_per_environment_sharing_the_rest(
    tmp_path: Path,
) -> None:
    project = loaded("teams", tmp_path)

    for env, template in templates(project).items():
        if env == "shared":
            assert not [r for r in template["resources"] if _team_of(r)]
            continue
        teams = {_team_of(w): w for w in resources(template, WORKSPACES) if _team_of(w)}
        assert sorted(teams) == ["churn", "fraud", "risk"]
        (platform,) = [w for w in resources(template, WORKSPACES) if not _team_of(w)]
        storages = {_team_of(s): s for s in resources(template, STORAGE)}
        for team, ws in teams.items():
            assert re.fullmatch(rf"mlw-{team}-{env}-[0-9a-f]{{4}}", ws["name"])
            props = ws["properties"]
            # shared: Key Vault, container registry, Application Insights
            for shared in ("keyVault", "containerRegistry", "applicationInsights"):
                assert props[shared] == platform["properties"][shared]
            # its own storage account, private like every other
            own = storages[team]
            assert props["storageAccount"] == (f"[resourceId('{STORAGE}', '{own['name']}')]")
            # private; in dev it admits only the shared registry, which promotes the
            # team's models out of it (as the platform's storage does)
            acls = own["properties"]["networkAcls"]
            assert acls["defaultAction"] == "Deny" and not acls.get("ipRules")
            if env == "dev":
                (rule,) = acls["resourceAccessRules"]
                assert "'mlr-acme-lending'" in rule["resourceId"]
            else:
                assert own["properties"]["publicNetworkAccess"] == "Disabled"
            assert own["properties"]["allowSharedKeyAccess"] is False
            assert props["publicNetworkAccess"] == "Disabled"
            # private endpoints for the workspace, its blobs and files in the shared subnet
            endpoints = [e for e in resources(template, ENDPOINTS) if _team_of(e) == team]
            groups = sorted(
                e["properties"]["privateLinkServiceConnections"][0]["properties"]["groupIds"][0]
                for e in endpoints
            )
            assert groups == ["amlworkspace", "blob", "file"]
            subnet = {e["properties"]["subnet"]["id"] for e in resources(template, ENDPOINTS)}
            assert len(subnet) == 1
            # its own training cluster, tagged for its budget
            computes = [c["name"] for c in resources(template, COMPUTES) if _team_of(c) == team]
            assert computes == [f"{ws['name']}/cpu-cluster"]


def test_a_team_and_environment_too_long_for_a_storage_account_exit_2_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    project = loaded("teams", tmp_path)
    text = project.path.read_text().replace("  risk:\n", "  riskanalysis:\n")
    project.path.write_text(text.replace("  prod: {approval", "  staging: {}\n  prod: {approval"))

    result = run_cli("-c", str(project.path), "render")

    assert result.exit_code == 2, result.stdout + result.stderr
    assert "teams.riskanalysis" in result.stderr
    assert "in environment 'staging': storage account name 'striskanalysisstaging" in result.stderr
    assert not (tmp_path / "infra").exists()


def test_config_validate_reports_a_team_name_too_long_for_a_storage_account_at_its_line(
    tmp_path: Path,
) -> None:
    project = loaded("teams", tmp_path)
    text = project.path.read_text().replace("  risk:\n", "  riskanalysis:\n")
    project.path.write_text(text.replace("  prod: {approval", "  staging: {}\n  prod: {approval"))
    line = project.path.read_text().splitlines().index("  riskanalysis:") + 1

    result = run_cli("-c", str(project.path), "config", "validate")

    assert result.exit_code == 2, result.stdout + result.stderr
    assert (
        f"mlops.yaml:{line}:3: error: teams.riskanalysis: in environment 'staging': storage"
        " account name 'striskanalysisstaging" in result.stderr
    )
    assert "shorten the team's or the environment's name" in result.stderr
    # the same team in the platform's own environments fits: only 'staging' is reported
    assert result.stderr.count("error: teams.") == 1


def test_the_teams_template_is_valid_json_with_no_leftover_placeholder(tmp_path: Path) -> None:
    for path, text in files(loaded("teams-aks", tmp_path)).items():
        if path.endswith((".json", "kustomization.yaml")):
            parsed = json.loads(text)
            assert "{team}" not in text and "{env}" not in text, path
            assert parsed
