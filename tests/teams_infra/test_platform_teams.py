"""The whole platform with three teams, provisioned through every real client against the
fakes (ARM, Azure ML quotas, budgets, Azure DevOps), then a fourth team onboarded: its
objects, and only its objects, are planned as creates, Azure DevOps and budget included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import load_config
from mlops.plan.teams import PLATFORM
from mlops.services import infra
from tests.conftest import run_cli
from tests.cost.consumption_fake import FakeBudgets
from tests.devops.ado_fake import AdoFake
from tests.devops.conftest import deployed_pools
from tests.infra.arm_fake import FakeCredential, FakeTransport
from tests.teams_infra.conftest import loaded
from tests.teams_infra.quota_fake import FakeAzure

OWNERS = """cost:
  budgets:
    prod: {amount: 9000, contact_emails: [ml-platform-owners@acme.example]}
"""
GROUPS = {
    "0a000000-0000-4000-8000-000000000001": "sg-ml-platform-owners",
    "0b000000-0000-4000-8000-000000000002": "sg-ml-platform-engineers",
    "0c000000-0000-4000-8000-00000000f001": "sg-fraud-ds",
    "0c000000-0000-4000-8000-00000000f002": "sg-fraud-eng",
    "0c000000-0000-4000-8000-00000000c001": "sg-churn-ds",
    "0c000000-0000-4000-8000-00000000a001": "sg-risk-ds",
    "0c000000-0000-4000-8000-0000000000d1": "sg-ops-ds",
}


class _Azure(FakeTransport):
    """One transport for every Azure client, as in Azure: budgets to their fake."""

    def __init__(self) -> None:
        self.azure = FakeAzure()
        self.budgets = FakeBudgets()

    def send(self, request: Any, **kwargs: Any) -> Any:
        if "/providers/Microsoft.Consumption/" in request.url:
            return self.budgets.send(request, **kwargs)
        return self.azure.send(request, **kwargs)


@pytest.fixture
def azure() -> _Azure:
    return _Azure()


@pytest.fixture
def ado(monkeypatch: pytest.MonkeyPatch, azure: _Azure) -> Iterator[AdoFake]:
    monkeypatch.delenv("AZURE_DEVOPS_EXT_PAT", raising=False)
    fake = AdoFake("acme", ("lending",))  # teams.yaml's organisation and project
    fake.pools = deployed_pools(azure.azure.arm)
    for object_id, name in GROUPS.items():
        fake.add_entra_group(object_id, name)
    with fake:
        yield fake


def _identity(env: str) -> str:
    digit = {"dev": 1, "test": 2, "prod": 3}[env]
    client, principal = (f"{p}e000000-0000-4000-8000-0000000000e{digit}" for p in (1, 0))
    return f"{env}={client}:{principal}"


def test_a_fourth_team_onboarded_on_a_provisioned_platform_plans_only_its_own_creates(
    tmp_path: Path, azure: _Azure, ado: AdoFake
) -> None:
    clients = AzureClients(FakeCredential(), azure, {"polling_interval": 0})
    project = loaded("teams", tmp_path, OWNERS)
    first = infra.provision(project, None, clients, poll_seconds=0.01, replication_delays=(0.0,))
    # a budget per team that declares one, alerting its contacts and the platform owners
    assert sorted(b.rsplit("/", 1)[1] for b in first.budgets) == [
        "mlops-lending-prod",
        "mlops-lending-team-churn",
        "mlops-lending-team-fraud",
    ]
    assert azure.budgets.contract_errors == [] and azure.azure.contract_errors == []
    assert not infra.plan(project, None, clients).has_changes  # converged

    added = run_cli(
        "-c", str(project.path), "team", "add", "ops",
        "--data-scientists", "sg-ops-ds=0c000000-0000-4000-8000-0000000000d1",
        "--repository", "ops-model", "--contact", "ops@acme.example", "--budget", "500",
        *(a for env in ("dev", "test", "prod") for a in ("--identity", _identity(env))),
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    plan = infra.plan(load_config(project.path), None, clients)

    grouped = plan.meta["teams"]
    creates = {
        t: {(c["stack"], c["type"]) for c in v if c["action"] == "create"}
        for t, v in grouped.items()
    }
    assert {t for t, made in creates.items() if made} == {"ops"}, [
        c for c in grouped[PLATFORM] if c["action"] == "create"
    ]
    stacks = {stack for stack, _ in creates["ops"]}
    assert {"dev", "test", "prod", "roles", "devops", "budgets"} <= stacks
    for team in ("churn", "fraud", "risk"):
        assert {c["action"] for c in grouped[team]} == {"no-change"}, team
    # the platform changes, never creates: the owners' condition (each resource group) now
    # names the new principals, and the agent pools' queues and the platform repository
    # (which a bound model repository's pipelines check out) admit the new pipelines
    platform = sorted(
        (c["type"], c["name"].split(" -> ")[0].split(" (")[0])
        for c in grouped[PLATFORM]
        if c["action"] != "no-change"
    )
    assert {c["action"] for c in grouped[PLATFORM]} == {"no-change", "modify"}
    assert platform == [
        ("AzureDevOps/pipelinepermissions", "lending"),
        *[
            ("AzureDevOps/pipelinepermissions", f"mdp-acme-lending-{e}")
            for e in ("dev", "prod", "test")
        ],
        *[("Microsoft.Authorization/roleAssignments", "Role Based Access Control Administrator")]
        * 4,
    ]
