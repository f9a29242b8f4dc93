"""`mlops plan` and `mlops provision` carry the selected environments' budgets: planned with
the stacks, applied after them through the Consumption API, converged on a second run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from mlops.services import infra
from tests.cost.consumption_fake import FakeBudgets
from tests.infra.arm_fake import FakeArm, FakeCredential, FakeTransport
from tests.infra.conftest import copy_config

COST = """cost:
  budgets:
    dev: {amount: 500, contact_emails: [ml-platform-owners@contoso.com]}
    prod: {amount: 2000, contact_emails: [ml-platform-owners@contoso.com]}
"""


class _Azure(FakeTransport):
    """One transport for every client, as in Azure: the Consumption API to its fake."""

    def __init__(self) -> None:
        self.arm = FakeArm()
        self.budgets = FakeBudgets()

    def send(self, request: Any, **kwargs: Any) -> Any:
        fake = self.budgets if "/providers/Microsoft.Consumption/" in request.url else self.arm
        return fake.send(request, **kwargs)


def _project(tmp_path: Path) -> LoadedConfig:
    path = copy_config("vnet", tmp_path)
    path.write_text(path.read_text() + COST)
    return load_config(path)


def test_provision_applies_the_selected_environments_budget_after_its_stack_once(
    tmp_path: Path,
) -> None:
    azure = _Azure()
    clients = AzureClients(FakeCredential(), azure, {"polling_interval": 0})
    loaded = _project(tmp_path)

    result = infra.provision(loaded, "dev", clients, poll_seconds=0.01)

    # dev's budget only: prod is not selected
    assert [b.rsplit("/", 1)[1] for b in result.budgets] == ["mlops-churn-dev"]
    assert result.applied[-1] == "budgets"
    assert len(azure.budgets.writes()) == 1
    again = infra.provision(loaded, "dev", clients, poll_seconds=0.01)
    assert again.budgets == [] and len(azure.budgets.writes()) == 1
    (planned,) = [s for s in again.plan.stacks if s.stack == "budgets"]
    assert [c.action for c in planned.changes] == ["no-change"]
    assert azure.budgets.contract_errors == []


def test_an_offline_plan_lists_each_budget_as_a_create(tmp_path: Path) -> None:
    plan = infra.offline_plan(_project(tmp_path), None, "--offline")

    (budgets,) = [s for s in plan.stacks if s.stack == "budgets"]
    assert [(c.action, c.name) for c in budgets.changes] == [
        ("create", "mlops-churn-dev"),
        ("create", "mlops-churn-prod"),
    ]
