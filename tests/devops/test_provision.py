"""Azure DevOps provisioning through the real `azure-devops` clients against a fake of its REST
API (route discovery included), as part of `mlops provision` for the whole platform."""

from __future__ import annotations

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig
from mlops.errors import BackendError, ConfigError
from mlops.services import infra
from tests.devops.ado_fake import (
    APPROVAL_CHECK,
    BUILD_POLICY,
    EXCLUSIVE_LOCK_CHECK,
    TASK_CHECK,
    AdoFake,
)
from tests.devops.conftest import (
    PROD_DEPLOYMENT_CLIENT,
    PROMOTION_CLIENT,
    provision_platform,
    without_promotion,
)
from tests.infra.arm_fake import FakeArm


def _checks(ado: AdoFake) -> dict[tuple[str, str, str], dict]:
    """(resource type, resource name, kind) -> the body each check was created with."""
    kinds = {APPROVAL_CHECK: "approval", TASK_CHECK: "branch", EXCLUSIVE_LOCK_CHECK: "lock"}
    out = {}
    for request in ado.writes():
        if request.path.endswith("/checks/configurations") and request.method == "POST":
            body = request.body
            resource = body["resource"]
            out[(resource["type"], resource["name"], kinds[body["type"]["id"]])] = body
    return out


def test_the_whole_platform_provisions_the_devops_project_with_gated_environments(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    result = provision_platform(platform_project, clients)

    assert result.applied[-2:] == ["roles", "devops"]
    ado.assert_clean()  # every body fit the REST specification and the SDK's models
    checks = {(kind, name, check): body for (kind, name, check), body in _checks(ado).items()}
    environments = {(n, c) for k, n, c in checks if k == "environment"}
    assert environments == {
        (env, check)
        for env in ("test", "prod", "platform")
        for check in ("approval", "branch", "lock")
    }
    connections = {(n, c) for k, n, c in checks if k == "endpoint"}
    assert connections == {
        *(
            (f"contoso-churn-{env}", check)
            for env in ("test", "prod", "platform")
            for check in ("approval", "branch")
        ),
        ("contoso-churn-promotion", "branch"),  # runs unattended in CT: no approval
    }
    checks = {(n, c): body for (_, n, c), body in checks.items() if _ == "environment"}
    prod = checks[("prod", "approval")]
    owners = ado.identity_id("0a000000-0000-4000-8000-000000000001")
    assert prod["settings"]["approvers"] == [{"id": owners}]
    assert prod["settings"]["minRequiredApprovers"] == 2
    assert prod["settings"]["requesterCannotBeApprover"] is True
    approval = platform_project.config.environments.azure["prod"].approval
    assert approval is not None and prod["timeout"] == approval.timeout_minutes
    engineers = ado.identity_id("0b000000-0000-4000-8000-000000000002")
    assert checks[("test", "approval")]["settings"]["approvers"] == [{"id": engineers}]
    branch = checks[("platform", "branch")]
    assert branch["type"]["id"] == TASK_CHECK
    assert branch["settings"]["inputs"]["allowedBranches"] == "refs/heads/main"
    pipelines = [w.body for w in ado.writes() if w.path.endswith("/_apis/pipelines")]
    assert {(p["name"], p["configuration"]["path"]) for p in pipelines} == {
        ("churn-ci", "/.azuredevops/ci.yml"),
        ("churn-ct", "/.azuredevops/ct.yml"),
        ("churn-cd", "/.azuredevops/cd.yml"),
        ("churn-infra", "/.azuredevops/infra.yml"),
    }
    policies = {
        w.body["type"]["id"]: w.body for w in ado.writes() if "/policy/configurations" in w.path
    }
    assert policies[BUILD_POLICY]["settings"]["buildDefinitionId"] > 0
    reviewers = policies["fa4e907d-c16b-4a4c-9dfa-4906e5d171dd"]["settings"]
    assert reviewers["creatorVoteCounts"] is False and reviewers["minimumApproverCount"] == 1
    endpoints = [w.body for w in ado.writes() if w.path.endswith("/serviceendpoint/endpoints")]
    assert {e["name"] for e in endpoints} == {
        "contoso-churn-dev",
        "contoso-churn-test",
        "contoso-churn-prod",
        "contoso-churn-promotion",
        "contoso-churn-platform",
    }
    assert {e["authorization"]["scheme"] for e in endpoints} == {"WorkloadIdentityFederation"}
    # what each identity must trust is read back from Azure DevOps, not guessed
    federation = {f["connection"]: f for f in result.federation}
    # each connection signs in as its purpose's identity: prod's deployment identity, the
    # promotion identity; test falls back to identities.cicd.test as the RBAC model does
    assert federation["contoso-churn-prod"]["client_id"] == PROD_DEPLOYMENT_CLIENT
    assert federation["contoso-churn-promotion"]["client_id"] == PROMOTION_CLIENT
    assert federation["contoso-churn-test"]["client_id"] == "1d000000-0000-4000-8000-000000000006"
    assert federation["contoso-churn-prod"]["issuer"].startswith(
        "https://login.microsoftonline.com/"
    )
    assert federation["contoso-churn-prod"]["subject"]
    groups = [w.body for w in ado.writes() if "/variablegroups" in w.path]
    assert {g["name"] for g in groups} == {
        "contoso-churn-dev",
        "contoso-churn-test",
        "contoso-churn-prod",
    }
    assert all(not v.get("isSecret") for g in groups for v in g["variables"].values())


def test_an_unchanged_second_provision_sends_no_write(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    provision_platform(platform_project, clients)
    ado_writes, arm_writes = len(ado.writes()), len(arm.writes())

    again = provision_platform(platform_project, clients)

    assert again.applied == []
    assert len(ado.writes()) == ado_writes and len(arm.writes()) == arm_writes
    devops = again.plan.stack("devops")
    assert devops is not None and {c.action for c in devops.changes} == {"no-change"}


def test_a_failure_halfway_resumes_on_the_next_run(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    ado.fail("POST", r"/checks/configurations", 500, times=4, headers={"Retry-After": "0"})

    with pytest.raises(BackendError) as failed:
        provision_platform(platform_project, clients)  # four tries, then it gives up
    assert "test: approval check" in failed.value.message

    provision_platform(platform_project, clients)

    ado.assert_clean()
    posts = [w for w in ado.writes() if w.path.endswith("/checks/configurations")]
    [stored] = ado.checks.values()
    # 16 on environments and connections, branch control on the test and prod pools' queues
    assert len(stored) == 18  # each check once: nothing made twice
    assert len(posts) == 18 + 4  # the four refused, then one each
    pipelines = [w for w in ado.writes() if w.path.endswith("/_apis/pipelines")]
    assert len(pipelines) == 4


def test_a_missing_permission_names_the_object_and_the_permission(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    ado.fail("POST", r"/_apis/pipelines\b", 403, times=1)

    with pytest.raises(BackendError) as denied:
        provision_platform(platform_project, clients)

    assert "creating pipeline churn-ci" in denied.value.message
    assert "permission" in denied.value.message.lower()
    assert denied.value.hint and "Project Administrators" in denied.value.hint


def test_what_provisioning_devops_needs_is_asked_for_before_any_call(
    tmp_path, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    from mlops.config.loader import load_config
    from tests.infra.conftest import copy_config

    path = without_promotion(copy_config("vnet", tmp_path))
    text = path.read_text()
    path.write_text(text.replace("  platform: {client_id", "  # platform: {client_id"))

    with pytest.raises(ConfigError) as missing:
        provision_platform(load_config(path), clients)

    paths = {i.path for i in missing.value.issues}
    assert "identities.platform" in paths
    assert "identities.promotion" in paths  # the only writer of the registry: CT needs it
    assert arm.requests == [] and ado.requests == []


def test_each_persona_group_joins_its_team_and_data_scientists_cannot_edit_pipelines(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    from mlops.services.devops_access import DENIED_BITS
    from tests.devops.ado_fake import BUILD_NAMESPACE, build_token

    provision_platform(platform_project, clients)

    scientists = ado.team_descriptor("churn", "churn data scientists")
    members = {m for m, team in ado.memberships if team == scientists}
    assert len(members) == 2  # sg-ml-data-scientists and sg-ml-churn-team
    owners = ado.team_descriptor("churn", "churn platform owners")
    assert len({m for m, team in ado.memberships if team == owners}) == 1
    project_id = next(p["id"] for p in ado.projects.values() if p["name"] == "churn")
    acl = ado.acls[(BUILD_NAMESPACE.lower(), build_token(project_id, "\\churn").lower())]
    [ace] = acl["acesDictionary"].values()
    assert ace["deny"] == DENIED_BITS and ace["allow"] == 0


def test_groups_known_to_the_organisation_are_found_across_pages(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    ado.graph_page_size = 1  # one group per page: the continuation token is followed
    provision_platform(platform_project, clients)
    writes = len(ado.writes())

    provision_platform(platform_project, clients)

    assert len(ado.writes()) == writes


def test_a_missing_project_is_reported_by_name_before_any_write(
    platform_project: LoadedConfig,
    clients: AzureClients,
    arm: FakeArm,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AZURE_DEVOPS_EXT_PAT", raising=False)
    with AdoFake(projects=()) as empty:
        plan = None
        with pytest.raises(BackendError) as missing:
            plan = infra.plan(platform_project, None, clients)

        assert plan is None
        assert "project churn" in missing.value.message
        assert empty.writes() == []
