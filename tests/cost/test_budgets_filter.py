"""A budget's filter is part of what plan compares: a team budget whose filter no longer
matches mlops.yaml (a resource group added, or the filter edited in the portal) plans as a
modify and is rewritten; budgets without a filter stay converged."""

from __future__ import annotations

from pathlib import Path

from mlops.backends.azure.clients import AzureClients
from mlops.backends.azure.consumption import Budgets
from mlops.services import budgets
from tests.cost.consumption_fake import FakeBudgets
from tests.infra.arm_fake import FakeCredential
from tests.teams_infra.conftest import loaded

OWNERS = """cost:
  budgets:
    prod: {amount: 9000, contact_emails: [ml-platform-owners@acme.example]}
"""
SUBSCRIPTION = "22222222-2222-2222-2222-222222222222"
FRAUD = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Consumption/budgets/" + (
    "mlops-lending-team-fraud"
)


def _store(fake: FakeBudgets) -> Budgets:
    return Budgets.from_clients(AzureClients(FakeCredential(), fake, {}), SUBSCRIPTION)


def test_a_team_budget_whose_filter_was_changed_in_the_portal_plans_as_a_modify(
    tmp_path: Path,
) -> None:
    fake = FakeBudgets()
    store = _store(fake)
    specs = budgets.team_budgets(loaded("teams", tmp_path, OWNERS))
    budgets.apply(specs, store)
    wanted = fake.budgets[FRAUD.lower()]["properties"]["filter"]
    narrowed = {"and": [wanted["and"][1]]}  # someone dropped the resource-group dimension
    fake.change_in_portal(FRAUD, filter=narrowed)

    changes = {c.name: c for c in budgets.plan(specs, store)}

    fraud = changes["mlops-lending-team-fraud"]
    assert fraud.action == "modify"
    assert [(p.path, p.before, p.after) for p in fraud.properties] == [
        ("properties.filter", narrowed, wanted)
    ]
    assert changes["mlops-lending-team-churn"].action == "no-change"
    assert budgets.apply(specs, store) == [FRAUD]
    assert fake.budgets[FRAUD.lower()]["properties"]["filter"] == wanted
    assert [c.action for c in budgets.plan(specs, store)] == ["no-change", "no-change"]


def test_a_new_environment_widens_each_team_budgets_filter_as_a_modify(tmp_path: Path) -> None:
    fake = FakeBudgets()
    store = _store(fake)
    project = loaded("teams", tmp_path, OWNERS)
    # the budgets as applied before the platform had its prod environment
    budgets.apply(budgets.team_budgets(project, envs=["dev", "test"]), store)
    three = budgets.team_budgets(project)

    changes = budgets.plan(three, store)

    assert [c.action for c in changes] == ["modify", "modify"]
    (change,) = changes[0].properties
    before = change.before["and"][0]["dimensions"]["values"]
    after = change.after["and"][0]["dimensions"]["values"]
    assert (before, after) == (
        ["rg-acme-lending-dev", "rg-acme-lending-test"],
        ["rg-acme-lending-dev", "rg-acme-lending-prod", "rg-acme-lending-test"],
    )


def test_an_environment_budget_without_a_filter_stays_converged(tmp_path: Path) -> None:
    fake = FakeBudgets()
    store = _store(fake)
    specs = budgets.environment_budgets(loaded("teams", tmp_path, OWNERS))
    budgets.apply(specs, store)
    (stored,) = fake.budgets.values()
    assert "filter" not in stored["properties"]

    assert [c.action for c in budgets.plan(specs, store)] == ["no-change"]
    assert budgets.apply(specs, store) == []
