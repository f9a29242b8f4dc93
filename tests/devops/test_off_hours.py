"""Contract: with `cost.off_hours`, provisioning registers the `endpoints` pipeline and, per
listed environment, its `{env}-off-hours` service connection: the environment's deployment
identity behind branch control only (a nightly run held for an approver would never sleep),
usable by the endpoints pipeline alone, with the environment's variable group and pool.
Through the real `azure-devops` clients against the fake of its REST API."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from tests.devops.ado_fake import (
    APPROVAL_CHECK,
    BUILD_NAMESPACE,
    TASK_CHECK,
    AdoFake,
    build_token,
)
from tests.devops.conftest import provision_platform, with_purposes
from tests.infra.arm_fake import FakeArm
from tests.infra.conftest import copy_config

OFF_HOURS = "contoso-churn-test-off-hours"


@pytest.fixture
def sleeping_test(tmp_path: Path) -> LoadedConfig:
    path = with_purposes(copy_config("vnet", tmp_path))
    path.write_text(
        path.read_text(encoding="utf-8") + "\ncost:\n  off_hours:\n    environments: [test]\n",
        encoding="utf-8",
    )
    return load_config(path)


def _project_id(ado: AdoFake) -> str:
    return next(p["id"] for p in ado.projects.values() if p["name"] == "churn")


def _endpoint(ado: AdoFake, name: str) -> dict:
    return next(e for e in ado.endpoints.values() if e["name"] == name)


def test_the_endpoints_pipeline_and_its_off_hours_connection_are_provisioned(
    sleeping_test: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    result = provision_platform(sleeping_test, clients)

    ado.assert_clean()  # every body fit the REST specification and the SDK's models
    pid = _project_id(ado)
    ids = {p["name"]: p["id"] for p in ado.pipelines[pid].values()}
    assert ado.pipelines[pid][ids["churn-endpoints"]]["configuration"]["path"] == (
        "/.azuredevops/endpoints.yml"
    )
    off_hours, test = _endpoint(ado, OFF_HOURS), _endpoint(ado, "contoso-churn-test")
    assert off_hours["authorization"]["scheme"] == "WorkloadIdentityFederation"
    federation = {f["connection"]: f for f in result.federation}
    # the same identity as test's deployment connection: it removes and re-creates deployments
    assert federation[OFF_HOURS]["client_id"] == federation["contoso-churn-test"]["client_id"]
    on = {
        c["type"]["id"]
        for c in ado.checks[pid].values()
        if c["resource"]["type"] == "endpoint" and c["resource"]["id"] == off_hours["id"]
    }
    assert on == {TASK_CHECK}  # branch control, and no approval
    on_test = {
        c["type"]["id"]
        for c in ado.checks[pid].values()
        if c["resource"]["type"] == "endpoint" and c["resource"]["id"] == test["id"]
    }
    assert APPROVAL_CHECK in on_test  # test's deployment connection keeps its approval
    # only the endpoints pipeline signs in with it; it also reads test's group and pool
    endpoints, cd = ids["churn-endpoints"], ids["churn-cd"]
    assert ado.authorized("churn", "endpoint", off_hours["id"]) == (False, {endpoints})
    assert ado.authorized("churn", "endpoint", test["id"]) == (False, {cd})
    group = next(g["id"] for g in ado.variable_groups.values() if g["name"] == "contoso-churn-test")
    assert ado.authorized("churn", "variablegroup", str(group)) == (False, {cd, endpoints})
    queues = {q["name"]: str(q["id"]) for q in ado.queues[pid].values()}
    assert ado.authorized("churn", "queue", queues["mdp-contoso-churn-test"]) == (
        False,
        {cd, endpoints},
    )
    # data scientists cannot put test to sleep (or wake it) by queueing the pipeline by hand
    from mlops.services.devops_access import QUEUE_BUILDS

    acl = ado.acls[(BUILD_NAMESPACE, build_token(pid, "\\churn", endpoints).lower())]
    [ace] = acl["acesDictionary"].values()
    assert ace["deny"] & QUEUE_BUILDS
    # the pool still runs default-branch pipelines only: its branch control stays
    pool_checks = {
        c["resource"]["name"]
        for c in ado.checks[pid].values()
        if c["resource"]["type"] == "queue" and c["type"]["id"] == TASK_CHECK
    }
    assert "mdp-contoso-churn-test" in pool_checks


def test_without_off_hours_there_is_no_endpoints_pipeline_or_connection(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    provision_platform(platform_project, clients)
    pid = _project_id(ado)
    assert "churn-endpoints" not in {p["name"] for p in ado.pipelines[pid].values()}
    assert not [e for e in ado.endpoints.values() if e["name"].endswith("-off-hours")]


def test_a_second_provision_with_off_hours_changes_nothing(
    sleeping_test: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    provision_platform(sleeping_test, clients)
    writes = len(ado.writes())
    provision_platform(sleeping_test, clients)
    assert len(ado.writes()) == writes
