"""Azure DevOps governance that holds in a real organisation (issue 17), through the real
`azure-devops` clients against the fake: checks where the power is, pipelines authorized
exactly, coexistence with what others made, paged lists, retried writes, renewed tokens."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.backends.azure.devops import Project, connect, pipeline_credential
from mlops.config.loader import LoadedConfig
from mlops.services import devops, infra
from tests.devops.ado_fake import (
    APPROVAL_CHECK,
    BUILD_NAMESPACE,
    BUSINESS_HOURS_TASK,
    MIN_REVIEWERS_POLICY,
    REQUIRED_REVIEWERS_POLICY,
    TASK_CHECK,
    AdoFake,
    build_token,
)
from tests.devops.conftest import provision_platform
from tests.infra.arm_fake import FakeArm

ENGINEERS = "0b000000-0000-4000-8000-000000000002"


def _project_id(ado: AdoFake) -> str:
    return next(p["id"] for p in ado.projects.values() if p["name"] == "churn")


def _endpoint_id(ado: AdoFake, name: str) -> str:
    return next(e["id"] for e in ado.endpoints.values() if e["name"] == name)


def _devops_changes(result: infra.ProvisionResult) -> dict[str, str]:
    stack = result.plan.stack("devops")
    assert stack is not None
    return {f"{c.type} {c.name}": c.action for c in stack.changes}


# --- item 1: checks on what carries power --------------------------------------------------------
def test_the_prod_connection_needs_approval_and_the_default_branch_wherever_it_is_used(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    provision_platform(platform_project, clients)

    prod = _endpoint_id(ado, "contoso-churn-prod")
    on_prod = [c for c in ado.checks[_project_id(ado)].values() if c["resource"]["id"] == prod]
    approval = next(c for c in on_prod if c["type"]["id"] == APPROVAL_CHECK)
    owners = ado.identity_id("0a000000-0000-4000-8000-000000000001")
    # the same approvers as the prod environment (mlops.yaml's environments.prod.approval)
    assert approval["settings"]["approvers"] == [{"id": owners}]
    assert approval["settings"]["minRequiredApprovers"] == 2
    assert approval["settings"]["requesterCannotBeApprover"] is True
    branch = next(c for c in on_prod if c["type"]["id"] == TASK_CHECK)
    assert branch["settings"]["inputs"]["allowedBranches"] == "refs/heads/main"
    assert branch["settings"]["inputs"]["ensureProtectionOfBranch"] == "true"


# --- item 2: exact pipeline permissions ----------------------------------------------------------
def test_each_pipeline_is_authorized_for_exactly_the_resources_it_uses(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    provision_platform(platform_project, clients)

    pid = _project_id(ado)
    ids = {p["name"]: p["id"] for p in ado.pipelines[pid].values()}
    environments = {e["name"]: e["id"] for e in ado.environments[pid].values()}
    groups = {g["name"]: g["id"] for g in ado.variable_groups.values()}
    expected = {
        ("endpoint", _endpoint_id(ado, "contoso-churn-dev")): {ids["churn-ct"]},
        ("endpoint", _endpoint_id(ado, "contoso-churn-promotion")): {ids["churn-ct"]},
        ("endpoint", _endpoint_id(ado, "contoso-churn-prod")): {ids["churn-cd"]},
        ("endpoint", _endpoint_id(ado, "contoso-churn-platform")): {ids["churn-infra"]},
        ("variablegroup", groups["contoso-churn-test"]): {ids["churn-cd"]},
        ("environment", environments["prod"]): {ids["churn-cd"]},
        ("environment", environments["platform"]): {ids["churn-infra"]},
    }
    for (kind, resource), pipelines in expected.items():
        assert ado.authorized("churn", kind, str(resource)) == (False, pipelines), kind


def test_a_resource_opened_to_all_pipelines_by_hand_is_closed_again(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    provision_platform(platform_project, clients)
    pid = _project_id(ado)
    prod = _endpoint_id(ado, "contoso-churn-prod")
    ci = next(p["id"] for p in ado.pipelines[pid].values() if p["name"] == "churn-ci")
    state = ado.permissions[(pid, "endpoint", prod)]
    state["all"], state["pipelines"][ci] = True, True  # "Grant access to all pipelines"

    again = provision_platform(platform_project, clients)

    changes = _devops_changes(again)
    assert changes[
        "AzureDevOps/pipelinepermissions contoso-churn-prod (endpoint): only churn-cd"
    ] == ("modify")
    cd = next(p["id"] for p in ado.pipelines[pid].values() if p["name"] == "churn-cd")
    assert ado.authorized("churn", "endpoint", prod) == (False, {cd})


def test_data_scientists_cannot_queue_cd_or_infra_and_engineers_review_pipeline_changes(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    from mlops.services.devops_access import QUEUE_BUILDS

    provision_platform(platform_project, clients)

    pid = _project_id(ado)
    scientists = ado.team_descriptor("churn", "churn data scientists")
    for name in ("churn-cd", "churn-infra"):
        definition = next(p["id"] for p in ado.pipelines[pid].values() if p["name"] == name)
        acl = ado.acls[(BUILD_NAMESPACE, build_token(pid, "\\churn", definition).lower())]
        [ace] = acl["acesDictionary"].values()
        assert ace["deny"] & QUEUE_BUILDS, name
    ct = next(p["id"] for p in ado.pipelines[pid].values() if p["name"] == "churn-ct")
    assert (BUILD_NAMESPACE, build_token(pid, "\\churn", ct).lower()) not in ado.acls
    assert scientists  # the team exists; its ACEs above are the ones denied
    [reviewers] = [
        p for p in ado.policies[pid].values() if p["type"]["id"] == REQUIRED_REVIEWERS_POLICY
    ]
    assert reviewers["settings"]["requiredReviewerIds"] == [ado.identity_id(ENGINEERS)]
    assert reviewers["settings"]["filenamePatterns"] == [
        "/.azuredevops/*",
        "/infra/*",
        "/mlops.yaml",
    ]
    assert reviewers["isBlocking"] is True


# --- item 3: coexistence -------------------------------------------------------------------------
def test_another_repositorys_policies_and_a_hand_added_check_are_left_untouched(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    billing = ado.add_repository("churn", "billing")
    theirs = ado.add_policy(
        "churn",
        {
            "isEnabled": True,
            "isBlocking": True,
            "type": {"id": MIN_REVIEWERS_POLICY},
            "settings": {
                "minimumApproverCount": 3,
                "scope": [
                    {
                        "repositoryId": billing["id"],
                        "refName": "refs/heads/main",
                        "matchKind": "exact",
                    }
                ],
            },
        },
    )
    project_wide = ado.add_policy(
        "churn",
        {
            "isEnabled": True,
            "isBlocking": False,
            "type": {"id": MIN_REVIEWERS_POLICY},
            "settings": {
                "minimumApproverCount": 2,
                "scope": [
                    {"repositoryId": None, "refName": "refs/heads/main", "matchKind": "exact"}
                ],
            },
        },
    )
    before = {p["id"]: dict(p) for p in (theirs, project_wide)}
    provision_platform(platform_project, clients)
    prod = next(e for e in ado.environments[_project_id(ado)].values() if e["name"] == "prod")
    business_hours = ado.add_check(
        "churn",
        {
            "type": {"id": TASK_CHECK},
            "resource": {"type": "environment", "id": str(prod["id"])},
            "timeout": 1440,
            "settings": {
                "displayName": "Business hours",
                "definitionRef": {
                    "id": BUSINESS_HOURS_TASK,
                    "name": "evaluateBusinessHours",
                    "version": "0.0.1",
                },
                "inputs": {
                    "businessDays": "Monday,Tuesday,Wednesday,Thursday,Friday",
                    "timeZone": "UTC",
                    "startTime": "08:00",
                    "endTime": "17:00",
                },
                "retryInterval": 5,
            },
        },
    )
    writes = len(ado.writes())

    again = provision_platform(platform_project, clients)

    assert len(ado.writes()) == writes  # nothing to change: theirs is not ours
    assert set(_devops_changes(again).values()) == {"no-change"}
    pid = _project_id(ado)
    for policy_id, policy in before.items():
        assert ado.policies[pid][policy_id]["settings"] == policy["settings"]
        assert ado.policies[pid][policy_id]["revision"] == 1
    assert ado.checks[pid][business_hours["id"]] == business_hours
    ours = [
        p
        for p in ado.policies[pid].values()
        if p["type"]["id"] == MIN_REVIEWERS_POLICY and p["id"] not in before
    ]
    assert [p["settings"]["minimumApproverCount"] for p in ours] == [1]


def test_drift_is_found_on_what_matters_and_put_back(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    provision_platform(platform_project, clients)
    pid = _project_id(ado)
    checks = ado.checks[pid].values()
    prod = next(e["id"] for e in ado.environments[pid].values() if e["name"] == "prod")
    approval = next(
        c
        for c in checks
        if c["type"]["id"] == APPROVAL_CHECK and c["resource"] == {**c["resource"], "id": str(prod)}
    )
    approval["isDisabled"] = True
    stranger = ado.identity_id("0c000000-0000-4000-8000-000000000003")
    approval["settings"]["approvers"][0]["id"] = stranger  # same count, another group
    endpoint = ado.endpoints[_endpoint_id(ado, "contoso-churn-test")]
    endpoint["authorization"]["parameters"]["serviceprincipalid"] = (
        "99999999-0000-4000-8000-000000000000"
    )

    again = provision_platform(platform_project, clients)

    changes = _devops_changes(again)
    assert changes["AzureDevOps/checks prod: approval"] == "modify"
    assert changes["AzureDevOps/serviceconnections contoso-churn-test"] == "modify"
    stack = again.plan.stack("devops")
    assert stack is not None
    drift = {p.path for c in stack.changes if c.name == "prod: approval" for p in c.properties}
    assert {"isDisabled", "settings.approvers"} <= drift
    assert approval["isDisabled"] is False and stranger not in {
        a["id"] for a in approval["settings"]["approvers"]
    }
    assert endpoint["authorization"]["parameters"]["serviceprincipalid"] == (
        "1d000000-0000-4000-8000-000000000006"
    )
    assert [f["connection"] for f in again.federation] == ["contoso-churn-test"]


def test_a_connection_of_the_same_name_made_by_someone_else_is_not_rewritten(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    provision_platform(platform_project, clients)
    endpoint = ado.endpoints[_endpoint_id(ado, "contoso-churn-test")]
    endpoint["description"] = "made by the billing team"
    endpoint["authorization"]["parameters"]["serviceprincipalid"] = "their-identity"

    again = provision_platform(platform_project, clients)

    stack = again.plan.stack("devops")
    assert stack is not None
    [change] = [
        c
        for c in stack.changes
        if c.type == "AzureDevOps/serviceconnections" and c.name == "contoso-churn-test"
    ]
    assert change.action == "no-change" and change.reason and "not made by mlops" in change.reason
    assert endpoint["authorization"]["parameters"]["serviceprincipalid"] == "their-identity"


def test_lists_spanning_three_pages_are_read_to_the_end(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    ado.page_size = 2  # 5 branch policies, 4 pipelines, 3 environments: up to three pages
    ado.add_policy(  # project-wide: it applies to the branch too, and is not ours
        "churn",
        {
            "isEnabled": True,
            "isBlocking": True,
            "type": {"id": MIN_REVIEWERS_POLICY},
            "settings": {
                "minimumApproverCount": 2,
                "scope": [
                    {"repositoryId": None, "refName": "refs/heads/main", "matchKind": "exact"}
                ],
            },
        },
    )
    provision_platform(platform_project, clients)
    ado.requests.clear()

    again = provision_platform(platform_project, clients)

    assert ado.writes() == []  # nothing made again
    assert set(_devops_changes(again).values()) == {"no-change"}
    followed = [
        r
        for r in ado.requests
        if r.path.endswith("/git/policy/configurations") and "continuationToken" in r.query
    ]
    assert len(followed) == 2  # pages two and three
    pipelines = [r for r in ado.requests if r.path.endswith("/_apis/pipelines")]
    assert any("continuationToken" in r.query for r in pipelines)


def test_a_throttled_create_is_retried_once_and_makes_nothing_twice(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    throttled = {"Retry-After": "0"}
    ado.fail("POST", r"/_apis/pipelines$", 429, times=1, headers=throttled)
    # the service made the environment, then failed to answer: looked up, not made again
    ado.fail("POST", r"/distributedtask/environments$", 503, times=1, headers=throttled, after=True)

    provision_platform(platform_project, clients)

    ado.assert_clean()
    pid = _project_id(ado)
    names = [p["name"] for p in ado.pipelines[pid].values()]
    assert sorted(names) == ["churn-cd", "churn-ci", "churn-ct", "churn-infra"]
    environments = [e["name"] for e in ado.environments[pid].values()]
    assert sorted(environments) == ["platform", "prod", "test"]
    posts = [w for w in ado.writes() if w.path.endswith("/_apis/pipelines")]
    assert len(posts) == 5  # one refused with 429, then each pipeline once


# --- item 4: long runs ---------------------------------------------------------------------------
@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ExpiringCredential:
    """Entra tokens that last an hour on `clock`."""

    clock: Clock
    issued: dict[str, float] = field(default_factory=dict)

    def get_token(self, *scopes: str, **_: object):
        from azure.core.credentials import AccessToken

        token = f"token-{len(self.issued) + 1}"
        self.issued[token] = self.clock.now + 3600
        return AccessToken(token, int(self.issued[token]))


def test_a_token_expiring_mid_run_is_renewed_before_it_is_refused(
    platform_project: LoadedConfig, ado: AdoFake
) -> None:
    from mlops.plan.devops import queue_users

    ado.pools = lambda: list(queue_users(platform_project.config))  # the pools, deployed
    clock = Clock()
    credential = ExpiringCredential(clock)
    ado.accept_token = lambda token: credential.issued.get(token, 0) > clock.now
    ado.on_request = lambda _: setattr(clock, "now", clock.now + 180)  # slow calls

    connection = connect(ado.base_url, credential, clock=clock)
    project = Project(connection, "churn", "churn", sleep=lambda _: None)
    _, work = devops.plan_devops(platform_project, project)
    devops.apply(work, lambda *_: None)

    assert clock.now - 1_000_000.0 > 3 * 3600  # the run outlived three tokens
    assert len(credential.issued) >= 4
    assert ado.refused_tokens == []
    ado.assert_clean()


def _signed_in_step(ado: AdoFake, monkeypatch: pytest.MonkeyPatch, name: str) -> dict[str, str]:
    """A job's AzureCLI@2 step signed in through the service connection `name`, whose
    identity trusts the issuer and subject Azure DevOps handed out (the federated credential
    provisioning prints), with the step's variables in the environment."""
    monkeypatch.setenv("AZURE_DEVOPS_EXT_PAT", "pat")  # the test's own access, not the step's
    project = Project(connect(ado.base_url), "churn", "churn", sleep=lambda _: None)
    client = "1d000000-0000-4000-8000-000000000005"
    tenant = "11111111-1111-1111-1111-111111111111"
    _, issuer, subject = project.create_connection(
        _project_id(ado), name, tenant, client, "22222222-2222-2222-2222-222222222222"
    )
    ado.trust(client, issuer, subject)
    step = ado.start_job("churn", name)
    for variable, value in step.items():
        monkeypatch.setenv(variable, value)
    return step


def test_inside_a_pipeline_step_mlops_signs_in_with_a_fresh_federated_token_each_time(
    ado: AdoFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.identity import AzurePipelinesCredential

    from mlops.backends.azure.clients import ARM_SCOPE, default_clients, signed_in
    from mlops.backends.azure.devops import ADO_SCOPE

    step = _signed_in_step(ado, monkeypatch, "contoso-churn-dev")

    clients = default_clients("11111111-1111-1111-1111-111111111111")

    assert isinstance(clients.credential, AzurePipelinesCredential)
    assert signed_in(clients) is None  # ARM: a federated token, exchanged at Entra
    ado.now += 30 * 60  # half an hour into the job: that first federated token has expired
    token = clients.credential.get_token(ADO_SCOPE)

    oidc = [r for r in ado.requests if r.path.endswith("/oidctoken")]
    assert [r.url for r in oidc] == [
        f"{step['SYSTEM_OIDCREQUESTURI']}?api-version=7.1"
        f"&serviceConnectionId={step['AZURESUBSCRIPTION_SERVICE_CONNECTION_ID']}"
    ] * 2
    # each sign-in exchanged its own federated token, as the connection's identity
    assert [(t["scope"], t["assertion"], t["client_id"]) for t in ado.entra_tokens] == [
        (ARM_SCOPE, "1", step["AZURESUBSCRIPTION_CLIENT_ID"]),
        (ADO_SCOPE, "2", step["AZURESUBSCRIPTION_CLIENT_ID"]),
    ]
    assert token.token == "entra-token-2"
    ado.assert_clean()


def test_a_federated_token_held_from_the_start_of_the_job_is_refused_later(
    ado: AdoFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `az login --federated-token` holds (Azure/azure-cli#28708): one token, 10 minutes."""
    import requests

    step = _signed_in_step(ado, monkeypatch, "contoso-churn-dev")
    first = requests.post(
        step["SYSTEM_OIDCREQUESTURI"],
        params={
            "api-version": "7.1",
            "serviceConnectionId": step["AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"],
        },
        headers={"Authorization": f"Bearer {step['SYSTEM_ACCESSTOKEN']}"},
        timeout=10,
    ).json()["oidcToken"]
    ado.now += 11 * 60

    answer = requests.post(
        f"https://login.microsoftonline.com/{step['AZURESUBSCRIPTION_TENANT_ID']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": step["AZURESUBSCRIPTION_CLIENT_ID"],
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": first,
            "scope": "https://management.azure.com/.default",
        },
        timeout=10,
    )

    assert answer.status_code == 400
    assert "AADSTS700024" in answer.json()["error_description"]


def test_outside_a_pipeline_step_mlops_signs_in_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from azure.identity import DefaultAzureCredential

    from mlops.backends.azure.clients import default_clients

    step = {
        "AZURESUBSCRIPTION_TENANT_ID": "11111111-1111-1111-1111-111111111111",
        "AZURESUBSCRIPTION_CLIENT_ID": "1d000000-0000-4000-8000-000000000005",
        "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "5e000000-0000-4000-8000-000000000001",
        "SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/contoso/churn/_apis/oidctoken",
    }  # no System.AccessToken: the YAML did not map it

    assert pipeline_credential(step) is None
    assert isinstance(default_clients(environ=step).credential, DefaultAzureCredential)
    assert isinstance(default_clients(environ={}).credential, DefaultAzureCredential)


# --- agent queues: the pools inside each environment's network -----------------------------------
def test_the_later_environments_pools_admit_only_the_default_branch(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    provision_platform(platform_project, clients)

    pid = _project_id(ado)
    queues = {q["name"]: str(q["id"]) for q in ado.queues[pid].values()}
    branch_checks = {
        c["resource"]["name"]: c["settings"]["inputs"]
        for c in ado.checks[pid].values()
        if c["resource"]["type"] == "queue" and c["type"]["id"] == TASK_CHECK
    }
    assert set(branch_checks) == {"mdp-contoso-churn-test", "mdp-contoso-churn-prod"}
    assert branch_checks["mdp-contoso-churn-prod"]["allowedBranches"] == "refs/heads/main"
    # the first environment's pool also runs ci on every branch and pull request: no check
    assert "mdp-contoso-churn-dev" in queues
    ado.assert_clean()


def test_each_pool_is_open_to_exactly_the_pipelines_whose_yaml_runs_on_it(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    provision_platform(platform_project, clients)

    pid = _project_id(ado)
    ids = {p["name"]: p["id"] for p in ado.pipelines[pid].values()}
    queues = {q["name"]: str(q["id"]) for q in ado.queues[pid].values()}
    cd = {ids["churn-cd"]}
    # dev's pool is also devops.agent_pool: ci and infra run there, ct trains, cd smoke-tests
    assert ado.authorized("churn", "queue", queues["mdp-contoso-churn-dev"]) == (
        False,
        set(ids.values()),
    )
    assert ado.authorized("churn", "queue", queues["mdp-contoso-churn-test"]) == (False, cd)
    assert ado.authorized("churn", "queue", queues["mdp-contoso-churn-prod"]) == (False, cd)
    again = _devops_changes(provision_platform(platform_project, clients))
    assert {a for n, a in again.items() if "mdp-contoso-churn" in n} == {"no-change"}


def test_a_pool_not_in_the_project_is_reported_with_what_to_do(
    platform_project: LoadedConfig, clients: AzureClients, arm: FakeArm, ado: AdoFake
) -> None:
    from mlops.errors import BackendError

    ado.pools = lambda: ["mdp-contoso-churn-dev", "mdp-contoso-churn-test"]  # prod's restricted

    with pytest.raises(BackendError) as missing:
        provision_platform(platform_project, clients)

    assert "agent queue mdp-contoso-churn-prod" in missing.value.message
    assert "Managed DevOps Pool" in (missing.value.hint or "")


# --- identities per purpose ----------------------------------------------------------------------
def test_validate_warns_when_no_identity_may_promote(tmp_path) -> None:
    from mlops.config.checks import check
    from mlops.config.loader import load_config
    from tests.devops.conftest import without_promotion
    from tests.infra.conftest import copy_config

    loaded = load_config(without_promotion(copy_config("vnet", tmp_path)))

    warnings = [i for i in check(loaded.config) if i.path == "identities.promotion"]

    assert [w.severity for w in warnings] == ["warning"]
    assert "registry" in warnings[0].message


def test_no_promotion_warning_once_the_identity_is_declared(
    platform_project: LoadedConfig,
) -> None:
    from mlops.config.checks import check

    assert not [i for i in check(platform_project.config) if i.path == "identities.promotion"]
