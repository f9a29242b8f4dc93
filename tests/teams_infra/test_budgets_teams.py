"""A budget per team: on the subscription, counting only the team's tagged resources in the
platform's resource groups, alerting the team's contacts and the platform owners; applied
once, converged on the next run."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.mgmt.consumption import models

from mlops.backends.azure.clients import AzureClients
from mlops.backends.azure.consumption import Budgets
from mlops.errors import BadInputError
from mlops.services import budgets
from tests.cost.consumption_fake import FakeBudgets
from tests.infra.arm_fake import FakeCredential
from tests.teams_infra.conftest import loaded

OWNERS = """cost:
  budgets:
    prod: {amount: 9000, contact_emails: [ml-platform-owners@acme.example]}
"""
SUBSCRIPTION = "/subscriptions/22222222-2222-2222-2222-222222222222"


def test_each_team_with_a_monthly_budget_gets_one_filtered_to_its_resources(
    tmp_path: Path,
) -> None:
    project = loaded("teams", tmp_path, OWNERS)

    specs = {s.name: s for s in budgets.team_budgets(project)}

    assert sorted(specs) == ["mlops-lending-team-churn", "mlops-lending-team-fraud"]  # not risk
    fraud = specs["mlops-lending-team-fraud"]
    assert fraud.scope == SUBSCRIPTION and fraud.amount == 3000
    # the team's contacts and the platform owners', and the subscription's owners
    assert fraud.contact_emails == ("fraud-leads@acme.example", "ml-platform-owners@acme.example")
    assert fraud.contact_roles == ("Owner",)
    body = fraud.body("2026-11-01T00:00:00Z")["properties"]
    assert body["filter"] == {
        "and": [
            {
                "dimensions": {
                    "name": "ResourceGroupName",
                    "operator": "In",
                    "values": [
                        "rg-acme-lending-dev",
                        "rg-acme-lending-prod",
                        "rg-acme-lending-test",
                    ],
                }
            },
            {"tags": {"name": "mlops-team", "operator": "In", "values": ["fraud"]}},
        ]
    }
    # the SDK's own model reads the filter back whole
    parsed = models.BudgetProperties(body).filter
    assert parsed.and_property[1].tags.name == "mlops-team"
    assert parsed.and_property[1].tags["values"] == ["fraud"]
    assert parsed.and_property[0].dimensions.name == "ResourceGroupName"


def test_team_budgets_are_applied_once_and_a_second_run_writes_nothing(tmp_path: Path) -> None:
    fake = FakeBudgets()
    store = Budgets.from_clients(
        AzureClients(FakeCredential(), fake, {}), "22222222-2222-2222-2222-222222222222"
    )
    specs = budgets.team_budgets(loaded("teams", tmp_path, OWNERS))

    assert [c.action for c in budgets.plan(specs, store)] == ["create", "create"]
    written = budgets.apply(specs, store)
    again = budgets.apply(specs, store)

    assert len(written) == 2 and again == []
    assert [c.action for c in budgets.plan(specs, store)] == ["no-change", "no-change"]
    assert fake.contract_errors == []
    (sent,) = [r.body for r in fake.writes() if r.path.endswith("mlops-lending-team-fraud")]
    assert sent["properties"]["filter"]["and"][1]["tags"]["values"] == ["fraud"]


def test_a_team_budget_with_nobody_to_alert_is_refused_naming_the_field(tmp_path: Path) -> None:
    project = loaded("teams", tmp_path)
    project.path.write_text(
        project.path.read_text().replace("    contacts: [churn-leads@acme.example]\n", "")
    )
    from mlops.config.loader import load_config

    with pytest.raises(BadInputError) as raised:
        budgets.team_budgets(load_config(project.path))
    assert "teams.churn.quotas.monthly_budget: nobody to alert" in raised.value.message
    assert "teams.churn.contacts" in (raised.value.hint or "")
