"""Resource names: deterministic, and either valid for Azure or reported, never truncated."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mlops.naming import environment_names

SUB = "11111111-2222-3333-4444-555555555555"


def _names(project="churn", prefix="contoso", env="dev", sub=SUB):
    return environment_names(
        prefix=prefix, project=project, env=env, resource_group=f"rg-{env}", subscription_id=sub
    )


def test_names_are_deterministic():
    assert _names() == _names()


def test_globally_unique_names_differ_between_subscriptions():
    other = _names(sub="99999999-2222-3333-4444-555555555555")
    assert other.storage_account != _names().storage_account
    assert other.workspace == _names().workspace


def test_typical_names_follow_azure_conventions():
    names = _names()
    assert names.workspace == "mlw-contoso-churn-dev"
    assert names.storage_account.startswith("stcontosochurndev")
    assert names.problems() == []


def test_a_name_that_does_not_fit_is_reported_not_truncated():
    names = _names(project="customer-churn-prediction")
    assert any("storage account" in p and "Azure allows 3 to 24" in p for p in names.problems())
    assert "customerchurnprediction" in names.storage_account


@given(
    project=st.from_regex(r"[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,4}){0,2}", fullmatch=True),
    prefix=st.from_regex(r"([a-z][a-z0-9]{0,9})?", fullmatch=True),
    env=st.from_regex(r"[a-z][a-z0-9]{1,9}", fullmatch=True),
)
def test_names_without_reported_problems_meet_azure_rules(project, prefix, env):
    names = _names(project=project, prefix=prefix, env=env)
    if names.problems():
        return
    assert re.fullmatch(r"[a-z0-9]{3,24}", names.storage_account)
    assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]", names.key_vault)
    assert "--" not in names.key_vault
    assert re.fullmatch(r"[a-zA-Z0-9]{5,50}", names.container_registry)
    assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}", names.workspace)


@given(
    project=st.from_regex(r"[a-z][a-z0-9]{10,20}", fullmatch=True),
    env=st.from_regex(r"[a-z][a-z0-9]{5,9}", fullmatch=True),
)
def test_names_longer_than_azure_allows_are_always_reported(project, env):
    names = _names(project=project, prefix="contoso", env=env)
    assert len(names.storage_account) > 24
    assert any("storage account" in p for p in names.problems())


def test_each_environment_has_its_own_online_endpoint_unique_in_its_region():
    """Endpoint names are the host of the scoring URI, unique within an Azure region: dev, test
    and prod (often one region) and another subscription's copy of the project never share one."""
    dev, test, prod = (_names(env=e).online_endpoint for e in ("dev", "test", "prod"))
    assert len({dev, test, prod}) == 3
    assert dev.startswith("churn-online-dev-")
    other = _names(sub="99999999-2222-3333-4444-555555555555").online_endpoint
    assert other != dev
    assert all(re.fullmatch(r"[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?", n) for n in (dev, test, prod))
    assert _names().problems() == []


def test_an_endpoint_name_too_long_for_azure_is_reported_at_deployment_endpoint_name(project):
    project(
        """
        project: {name: churn}
        deployment: {endpoint_name: churn-prediction-online-service}
        """
    )
    from tests.conftest import run_cli

    result = run_cli("config", "validate", "-o", "json")
    assert result.exit_code == 2
    issues = [i for i in result.json()["issues"] if i["path"] == "deployment.endpoint_name"]
    assert issues and "online endpoint name" in issues[0]["message"]
    assert "shorten deployment.endpoint_name" in issues[0]["hint"]


def test_config_show_prints_each_environments_endpoint(project):
    project("project: {name: churn}\n")
    from tests.conftest import run_cli

    shown = run_cli("config", "show", "-o", "json").json()
    endpoints = {
        env: n["online_endpoint"] for env, n in shown["derived_names"].items() if env != "shared"
    }
    assert set(endpoints) == {"dev", "test", "prod"} and len(set(endpoints.values())) == 3
    assert "# names derived from the settings above" in run_cli("config", "show").stdout
