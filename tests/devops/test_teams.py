"""Azure DevOps per team (issue 21, item 4): the platform repository's `mlops provision` gives
each team its Azure DevOps team, repositories, a ci, ct and cd pipeline per model repository,
an environment and a service connection per Azure environment, gated by the team's engineers
with the environment's approvers and the platform engineers; only the team's own pipelines
may use them. Through the real `azure-devops` clients against the fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from mlops.errors import BadInputError
from mlops.services import devops
from tests.devops.ado_fake import (
    APPROVAL_CHECK,
    BUILD_NAMESPACE,
    BUILD_POLICY,
    EXCLUSIVE_LOCK_CHECK,
    MIN_REVIEWERS_POLICY,
    REQUIRED_REVIEWERS_POLICY,
    TASK_CHECK,
    AdoFake,
    build_token,
)
from tests.devops.conftest import provision_platform, with_purposes, without_promotion
from tests.infra.arm_fake import FakeArm
from tests.infra.conftest import copy_config

OWNERS = "0a000000-0000-4000-8000-000000000001"
ENGINEERS = "0b000000-0000-4000-8000-000000000002"
FRAUD_DS, FRAUD_ENG = "0e000000-0000-4000-8000-000000000011", "0e000000-0000-4000-8000-000000000012"
RISK_DS, RISK_ENG = "0e000000-0000-4000-8000-000000000021", "0e000000-0000-4000-8000-000000000022"


def identities(team: int) -> str:
    return "".join(
        f"      {env}: {{client_id: 1e000000-0000-4000-8000-0000000000{team}{i},"
        f" object_id: 0f000000-0000-4000-8000-0000000000{team}{i}}}\n"
        for i, env in enumerate(("dev", "test", "prod"))
    )


TEAMS = f"""\
teams:
  fraud:
    data_scientists: [{{name: sg-fraud-ds, object_id: {FRAUD_DS}}}]
    engineers: [{{name: sg-fraud-eng, object_id: {FRAUD_ENG}}}]
    repositories: [fraud-model, fraud-batch]
    identities:
{identities(1)}  risk:
    data_scientists: [{{name: sg-risk-ds, object_id: {RISK_DS}}}]
    engineers: [{{name: sg-risk-eng, object_id: {RISK_ENG}}}]
    repositories: [credit-risk]
    identities:
{identities(2)}"""


@pytest.fixture
def teams_platform(tmp_path: Path) -> LoadedConfig:
    """The vnet platform (project churn, prefix contoso) with two teams."""
    path = with_purposes(copy_config("vnet", tmp_path))
    path.write_text(path.read_text() + TEAMS)
    return load_config(path)


@pytest.fixture
def teams_ado(ado: AdoFake) -> AdoFake:
    """The organisation knows the teams' groups; fraud-model already exists, the others not."""
    for object_id, name in {
        FRAUD_DS: "sg-fraud-ds",
        FRAUD_ENG: "sg-fraud-eng",
        RISK_DS: "sg-risk-ds",
        RISK_ENG: "sg-risk-eng",
    }.items():
        ado.add_entra_group(object_id, name)
    ado.add_repository("churn", "fraud-model")
    return ado


def pid(ado: AdoFake) -> str:
    return next(p["id"] for p in ado.projects.values() if p["name"] == "churn")


def pipeline_ids(ado: AdoFake) -> dict[str, int]:
    return {p["name"]: p["id"] for p in ado.pipelines[pid(ado)].values()}


def authorized_names(ado: AdoFake, kind: str, name: str) -> set[str]:
    """The pipelines (names) authorized for a resource; it must not be open to all."""
    if kind == "endpoint":
        resource = next(e["id"] for e in ado.endpoints.values() if e["name"] == name)
    else:
        resource = next(e["id"] for e in ado.environments[pid(ado)].values() if e["name"] == name)
    everyone, ids = ado.authorized("churn", kind, str(resource))
    assert not everyone
    names = {i: n for n, i in pipeline_ids(ado).items()}
    return {names[i] for i in ids}


def test_each_teams_connections_and_environments_are_usable_only_by_its_own_pipelines(
    teams_platform: LoadedConfig, clients: AzureClients, arm: FakeArm, teams_ado: AdoFake
) -> None:
    provision_platform(teams_platform, clients)

    teams_ado.assert_clean()
    assert authorized_names(teams_ado, "endpoint", "contoso-team-fraud-dev") == {
        "fraud-model-ct",
        "fraud-batch-ct",
    }
    for env in ("test", "prod"):
        fraud = {"fraud-model-cd", "fraud-batch-cd"}
        assert authorized_names(teams_ado, "endpoint", f"contoso-team-fraud-{env}") == fraud
        assert authorized_names(teams_ado, "environment", f"fraud-{env}") == fraud
        assert authorized_names(teams_ado, "endpoint", f"contoso-team-risk-{env}") == {
            "credit-risk-cd"
        }
        assert authorized_names(teams_ado, "environment", f"risk-{env}") == {"credit-risk-cd"}
    # CT promotes through the team's own promotion connection
    assert authorized_names(teams_ado, "endpoint", "contoso-team-fraud-promotion") == {
        "fraud-model-ct",
        "fraud-batch-ct",
    }
    assert authorized_names(teams_ado, "endpoint", "contoso-team-risk-promotion") == {
        "credit-risk-ct"
    }
    # and the platform's own connections stay the platform's
    assert authorized_names(teams_ado, "endpoint", "contoso-churn-prod") == {"churn-cd"}


def test_each_connection_signs_in_as_the_teams_identity_for_that_environment(
    teams_platform: LoadedConfig, clients: AzureClients, arm: FakeArm, teams_ado: AdoFake
) -> None:
    provision_platform(teams_platform, clients)

    made = {e["name"]: e for e in teams_ado.endpoints.values()}
    risk_prod = made["contoso-team-risk-prod"]["authorization"]["parameters"]
    assert risk_prod["serviceprincipalid"] == "1e000000-0000-4000-8000-000000000022"
    assert risk_prod["tenantid"] == "11111111-1111-1111-1111-111111111111"
    # promotion into the shared registry: the platform's promotion identity, its only writer
    platform = made["contoso-churn-promotion"]["authorization"]["parameters"]
    team = made["contoso-team-risk-promotion"]["authorization"]["parameters"]
    assert team["serviceprincipalid"] == platform["serviceprincipalid"]


def test_team_environments_wait_for_the_teams_engineers_with_the_platforms_approvers(
    teams_platform: LoadedConfig, clients: AzureClients, arm: FakeArm, teams_ado: AdoFake
) -> None:
    provision_platform(teams_platform, clients)

    environments = {e["name"]: e["id"] for e in teams_ado.environments[pid(teams_ado)].values()}
    on_prod = [
        c
        for c in teams_ado.checks[pid(teams_ado)].values()
        if c["resource"]["type"] == "environment"
        and c["resource"]["id"] == str(environments["fraud-prod"])
    ]
    assert sorted(c["type"]["id"] for c in on_prod) == sorted(
        [APPROVAL_CHECK, TASK_CHECK, EXCLUSIVE_LOCK_CHECK]
    )
    approval = next(c for c in on_prod if c["type"]["id"] == APPROVAL_CHECK)
    # prod's approvers in mlops.yaml are the platform owners, two of them needed
    assert sorted(a["id"] for a in approval["settings"]["approvers"]) == sorted(
        teams_ado.identity_id(oid) for oid in (FRAUD_ENG, OWNERS, ENGINEERS)
    )
    assert approval["settings"]["minRequiredApprovers"] == 2
    assert approval["settings"]["requesterCannotBeApprover"] is True
    risk_test = next(
        c
        for c in teams_ado.checks[pid(teams_ado)].values()
        if c["type"]["id"] == APPROVAL_CHECK and c["resource"]["name"] == "risk-test"
    )
    assert sorted(a["id"] for a in risk_test["settings"]["approvers"]) == sorted(
        teams_ado.identity_id(oid) for oid in (RISK_ENG, ENGINEERS)
    )


def test_a_teams_repositories_pipelines_and_team_are_made_and_a_second_run_writes_nothing(
    teams_platform: LoadedConfig, clients: AzureClients, arm: FakeArm, teams_ado: AdoFake
) -> None:
    provision_platform(teams_platform, clients)

    project = pid(teams_ado)
    repositories = {r["name"]: r["id"] for r in teams_ado.repositories[project].values()}
    assert {"fraud-model", "fraud-batch", "credit-risk"} <= set(repositories)
    made = {p["name"]: p for p in teams_ado.pipelines[project].values()}
    batch_cd = made["fraud-batch-cd"]
    assert batch_cd["folder"] == "\\fraud"
    assert batch_cd["configuration"]["path"] == "/.azuredevops/cd.yml"
    assert batch_cd["configuration"]["repository"]["id"] == repositories["fraud-batch"]
    assert {n for n in made if n.startswith(("fraud-", "credit-"))} == {
        f"{repo}-{kind}"
        for repo in ("fraud-model", "fraud-batch", "credit-risk")
        for kind in ("ci", "ct", "cd")
    }
    for team, groups in (("fraud data scientists", {FRAUD_DS}), ("fraud engineers", {FRAUD_ENG})):
        container = teams_ado.team_descriptor("churn", team)
        assert {
            g["originId"]
            for d, g in teams_ado.groups.items()
            if (d, container) in teams_ado.memberships
        } == groups

    writes = len(teams_ado.writes())
    again = provision_platform(teams_platform, clients)
    stack = again.plan.stack("devops")
    assert stack is not None
    assert {c.action for c in stack.changes} == {"no-change"}
    assert len(teams_ado.writes()) == writes


def test_exactly_the_teams_pipelines_may_check_out_the_platform_repository(
    teams_platform: LoadedConfig, clients: AzureClients, arm: FakeArm, teams_ado: AdoFake
) -> None:
    # a bound model repository's pipelines check out the platform repository: authorized
    # beforehand, no first run waits for someone to "Permit" it
    provision_platform(teams_platform, clients)

    teams_ado.assert_clean()
    project = pid(teams_ado)
    platform = next(r for r in teams_ado.repositories[project].values() if r["name"] == "churn")
    everyone, ids = teams_ado.authorized("churn", "repository", f"{project}.{platform['id']}")
    names = {i: n for n, i in pipeline_ids(teams_ado).items()}
    assert not everyone
    assert {names[i] for i in ids} == {
        f"{repo}-{kind}"
        for repo in ("fraud-model", "fraud-batch", "credit-risk")
        for kind in ("ci", "ct", "cd")
    }
    writes = len(teams_ado.writes())
    again = provision_platform(teams_platform, clients).plan.stack("devops")
    assert again is not None
    assert [c.action for c in again.changes if "(repository)" in c.name] == ["no-change"]
    assert len(teams_ado.writes()) == writes


def test_a_teams_data_scientists_cannot_queue_its_cd_or_edit_its_pipelines(
    teams_platform: LoadedConfig, clients: AzureClients, arm: FakeArm, teams_ado: AdoFake
) -> None:
    from mlops.services.devops_access import DENIED_BITS, QUEUE_BUILDS

    provision_platform(teams_platform, clients)

    project = pid(teams_ado)
    ids = pipeline_ids(teams_ado)
    scientists = teams_ado.team_descriptor("churn", "fraud data scientists")
    for name, bits in (("fraud-model-cd", QUEUE_BUILDS), ("fraud-batch-cd", QUEUE_BUILDS)):
        acl = teams_ado.acls[(BUILD_NAMESPACE, build_token(project, "\\fraud", ids[name]).lower())]
        [ace] = acl["acesDictionary"].values()
        assert ace["deny"] & bits == bits, name
    folder = teams_ado.acls[(BUILD_NAMESPACE, f"{project}/fraud".lower())]
    [ace] = folder["acesDictionary"].values()
    assert ace["deny"] & DENIED_BITS == DENIED_BITS
    ct = build_token(project, "\\fraud", ids["fraud-model-ct"]).lower()
    assert (BUILD_NAMESPACE, ct) not in teams_ado.acls  # they train: ct stays theirs to queue
    assert scientists


def test_each_model_repositorys_default_branch_is_protected_and_reviewed_by_its_engineers(
    teams_platform: LoadedConfig, clients: AzureClients, arm: FakeArm, teams_ado: AdoFake
) -> None:
    provision_platform(teams_platform, clients)

    project = pid(teams_ado)
    repositories = {r["name"]: r["id"] for r in teams_ado.repositories[project].values()}
    ids = pipeline_ids(teams_ado)
    on_batch = [
        p
        for p in teams_ado.policies[project].values()
        if [s["repositoryId"] for s in p["settings"]["scope"]] == [repositories["fraud-batch"]]
    ]
    by_type = {p["type"]["id"]: p for p in on_batch}
    assert by_type[BUILD_POLICY]["settings"]["buildDefinitionId"] == ids["fraud-batch-ci"]
    reviewers = by_type[REQUIRED_REVIEWERS_POLICY]
    assert reviewers["settings"]["requiredReviewerIds"] == [teams_ado.identity_id(FRAUD_ENG)]
    assert reviewers["isBlocking"] is True
    assert by_type[MIN_REVIEWERS_POLICY]["settings"]["scope"][0]["refName"] == "refs/heads/main"


def test_a_team_without_an_identity_for_an_environment_is_named_in_the_platform_file(
    teams_platform: LoadedConfig,
) -> None:
    path = teams_platform.path
    path.write_text(
        path.read_text().replace(
            "      prod: {client_id: 1e000000-0000-4000-8000-000000000012,"
            " object_id: 0f000000-0000-4000-8000-000000000012}\n",
            "",
        )
    )
    loaded = load_config(path)
    problems = devops.prerequisites(loaded)
    (missing,) = [p for p in problems if p.path.startswith("teams.")]
    assert missing.path == "teams.fraud.identities.prod"
    assert missing.message == "is needed for the service connection contoso-team-fraud-prod"
    assert missing.line == path.read_text().splitlines().index("    identities:") + 1


def test_a_missing_promotion_identity_is_named_once_with_every_connection_it_signs_in(
    teams_platform: LoadedConfig,
) -> None:
    path = without_promotion(teams_platform.path)

    problems = devops.prerequisites(load_config(path))

    (missing,) = [p for p in problems if p.path == "identities.promotion"]
    assert missing.message == (
        "is needed for the service connections contoso-churn-promotion,"
        " contoso-team-fraud-promotion, contoso-team-risk-promotion"
    )


def test_the_offline_plan_lists_each_teams_objects(teams_platform: LoadedConfig) -> None:
    names = {(c.type, c.name) for c in devops.offline_stack(teams_platform).changes}
    assert {
        ("AzureDevOps/teams", "risk data scientists"),
        ("AzureDevOps/teams", "risk engineers"),
        ("AzureDevOps/teammembers", "risk engineers: sg-risk-eng"),
        ("AzureDevOps/permissions", "risk data scientists: cannot queue credit-risk-cd"),
        ("AzureDevOps/repositories", "credit-risk"),
        ("AzureDevOps/pipelines", "credit-risk-ct"),
        ("AzureDevOps/environments", "risk-prod"),
        ("AzureDevOps/serviceconnections", "contoso-team-risk-dev"),
        ("AzureDevOps/checks", "risk-prod: approval"),
        ("AzureDevOps/pipelinepermissions", "risk-prod (environment): only credit-risk-cd"),
    } <= names
    assert not any("infra" in n for t, n in names if t == "AzureDevOps/pipelines" and "risk" in n)


def test_a_model_repository_bound_to_the_platform_provisions_no_devops_objects(
    teams_platform: LoadedConfig, tmp_path: Path
) -> None:
    from mlops.services import infra

    model = tmp_path / "credit-risk" / "mlops.yaml"
    model.parent.mkdir()
    model.write_text(
        "project: {name: crisk}\n"
        "platform: {path: ../mlops.yaml, team: risk, model_repository: credit-risk}\n"
    )
    loaded = load_config(model)
    assert devops.enabled(teams_platform) and not devops.enabled(loaded)
    # nor anything else: the platform repository plans the team's objects
    with pytest.raises(BadInputError, match="binds this model repository to the platform"):
        infra.offline_plan(loaded, None, "offline")


def test_planning_after_team_add_shows_exactly_the_new_teams_objects_as_creates(
    teams_platform: LoadedConfig, clients: AzureClients, arm: FakeArm, teams_ado: AdoFake
) -> None:
    from mlops.services import infra, teams

    provision_platform(teams_platform, clients)
    ops = {"dev": "31", "test": "32", "prod": "33"}
    teams.add(
        teams_platform.path,
        "ops",
        {
            "engineers": [{"name": "sg-risk-eng", "object_id": RISK_ENG}],
            "repositories": ["ops-model"],
            "identities": {
                env: {
                    "client_id": f"1e000000-0000-4000-8000-0000000000{n}",
                    "object_id": f"0f000000-0000-4000-8000-0000000000{n}",
                }
                for env, n in ops.items()
            },
        },
    )

    plan = infra.plan(load_config(teams_platform.path), None, clients)

    # Azure DevOps' part (the infrastructure stacks' per-team resources are issue 21's items
    # 2, 3 and 6, planned by their own stacks)
    stack = plan.stack("devops")
    assert stack is not None
    creates = {f"{c.type} {c.name}" for c in stack.changes if c.action != "no-change"}
    assert creates == {
        "AzureDevOps/repositories ops-model",
        "AzureDevOps/teams ops data scientists",
        "AzureDevOps/teams ops engineers",
        "AzureDevOps/teammembers ops engineers: sg-risk-eng",
        "AzureDevOps/permissions ops data scientists: pipelines in \\ops (no edit, delete or"
        " permission changes)",
        "AzureDevOps/permissions ops data scientists: cannot queue ops-model-cd",
        *(
            f"AzureDevOps/policies ops-model main: {label}"
            for label in (
                "minimum reviewers",
                "comments resolved",
                "build validation (ci.yml)",
                "ops engineers review .azuredevops/, infra/, mlops.yaml",
            )
        ),
        *(f"AzureDevOps/pipelines ops-model-{kind}" for kind in ("ci", "ct", "cd")),
        *(f"AzureDevOps/environments ops-{env}" for env in ("test", "prod")),
        *(f"AzureDevOps/serviceconnections contoso-team-ops-{env}" for env in ops),
        "AzureDevOps/serviceconnections contoso-team-ops-promotion",
        "AzureDevOps/checks contoso-team-ops-promotion (endpoint): branch control",
        "AzureDevOps/pipelinepermissions contoso-team-ops-promotion (endpoint): only ops-model-ct",
        *(
            f"AzureDevOps/checks {resource}: {check}"
            for env in ("test", "prod")
            for resource in (f"ops-{env}", f"contoso-team-ops-{env} (endpoint)")
            for check in ("approval", "branch control")
        ),
        *(f"AzureDevOps/checks ops-{env}: exclusive lock" for env in ("test", "prod")),
        "AzureDevOps/pipelinepermissions contoso-team-ops-dev (endpoint): only ops-model-ct",
        *(
            f"AzureDevOps/pipelinepermissions {resource}: only ops-model-cd"
            for env in ("test", "prod")
            for resource in (f"contoso-team-ops-{env} (endpoint)", f"ops-{env} (environment)")
        ),
        # the agent queues the platform's pipelines use, now open to ops' pipelines too, and
        # the platform repository its pipelines check out
        *(
            f"AzureDevOps/pipelinepermissions {c.name}"
            for c in stack.changes
            if c.type == "AzureDevOps/pipelinepermissions" and "(queue)" in c.name
        ),
        "AzureDevOps/pipelinepermissions churn (repository): only "
        + ", ".join(
            f"{repo}-{kind}"
            for repo in ("fraud-model", "fraud-batch", "credit-risk", "ops-model")
            for kind in ("ci", "ct", "cd")
        ),
    }
    queues = [
        c
        for c in stack.changes
        if c.type == "AzureDevOps/pipelinepermissions" and "(queue)" in c.name
    ]
    assert queues and all(c.action == "modify" for c in queues)
    assert all("ops-model" in c.name for c in queues)


def test_a_team_with_no_repository_yet_gets_connections_open_to_no_pipeline(
    teams_platform: LoadedConfig, clients: AzureClients, arm: FakeArm, teams_ado: AdoFake
) -> None:
    path = teams_platform.path
    path.write_text(path.read_text().replace("repositories: [credit-risk]", "repositories: []"))
    loaded = load_config(path)

    provision_platform(loaded, clients)

    teams_ado.assert_clean()
    assert authorized_names(teams_ado, "endpoint", "contoso-team-risk-prod") == set()
    assert authorized_names(teams_ado, "environment", "risk-prod") == set()
    again = provision_platform(loaded, clients).plan.stack("devops")
    assert again is not None and {c.action for c in again.changes} == {"no-change"}
