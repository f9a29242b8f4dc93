"""Budgets per environment with alerts to the platform owners: planned, applied through the
real azure-mgmt-consumption client against a fake of the budgets API, converging on re-run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.backends.azure.consumption import Budgets
from mlops.config.loader import LoadedConfig, load_config
from mlops.errors import BackendError, BadInputError, ConfigError
from mlops.services import budgets
from tests.cost.consumption_fake import FakeBudgets
from tests.infra.arm_fake import FakeCredential, Fault

REPO = Path(__file__).parents[2]
SUB = "22222222-2222-2222-2222-222222222222"
COST = """
cost:
  budgets:
    dev:
      amount: 500
      contact_emails: [ml-platform-owners@contoso.com]
    test:
      amount: 800
      thresholds: [50, 90, 100]
      forecast: false
      contact_emails: [ml-platform-owners@contoso.com, finops@contoso.com]
"""


def _project(folder: Path, cost: str = COST) -> LoadedConfig:
    text = (REPO / "mlops.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "  location: westeurope", f"  subscription_id: {SUB}\n  location: westeurope"
    )
    (folder / "mlops.yaml").write_text(text + cost, encoding="utf-8")
    return load_config(folder / "mlops.yaml")


@pytest.fixture
def fake() -> Iterator[FakeBudgets]:
    made = FakeBudgets()
    yield made
    assert made.contract_errors == []


@pytest.fixture
def store(fake: FakeBudgets) -> Budgets:
    clients = AzureClients(FakeCredential(), fake, {"retry_backoff_factor": 0.01})
    return Budgets.from_clients(clients, SUB)


def test_each_environment_gets_a_monthly_budget_on_its_resource_group(tmp_path: Path) -> None:
    dev, test = budgets.environment_budgets(_project(tmp_path))

    assert dev.scope == f"/subscriptions/{SUB}/resourceGroups/rg-mlops-diagnosis-dev"
    assert dev.name == "mlops-diagnosis-dev"
    notes = dev.notifications()
    assert sorted(notes) == [
        "Actual_GreaterThan_100_Percent",
        "Actual_GreaterThan_80_Percent",
        "Forecasted_GreaterThan_100_Percent",
    ]
    assert notes["Actual_GreaterThan_80_Percent"]["contactEmails"] == [
        "ml-platform-owners@contoso.com"
    ]
    assert notes["Actual_GreaterThan_80_Percent"]["contactRoles"] == ["Owner"]
    assert len(test.notifications()) == 3 and test.amount == 800


def test_provision_creates_the_budgets_and_a_second_run_writes_nothing(
    tmp_path: Path, fake: FakeBudgets, store: Budgets
) -> None:
    specs = budgets.environment_budgets(_project(tmp_path))

    planned = budgets.plan(specs, store)
    assert [c.action for c in planned] == ["create", "create"]
    assert budgets.apply(specs, store) == [s.address for s in specs]
    [put_dev, _] = fake.writes()
    assert put_dev.api_version == "2024-08-01"
    assert put_dev.body["properties"]["timePeriod"]["startDate"].endswith("-01T00:00:00Z")

    writes = len(fake.writes())
    assert [c.action for c in budgets.plan(specs, store)] == ["no-change", "no-change"]
    assert budgets.apply(specs, store) == []
    assert len(fake.writes()) == writes  # converged: nothing written


def test_a_budget_changed_in_the_portal_is_shown_as_drift_and_put_back(
    tmp_path: Path, fake: FakeBudgets, store: Budgets
) -> None:
    specs = budgets.environment_budgets(_project(tmp_path))
    budgets.apply(specs, store)
    dev = specs[0]
    start = fake.budgets[dev.address.lower()]["properties"]["timePeriod"]["startDate"]
    fake.change_in_portal(dev.address, amount=5000.0)
    etag_read = fake.budgets[dev.address.lower()]["eTag"]

    [drift, same] = budgets.plan(specs, store)
    assert (drift.action, same.action) == ("modify", "no-change")
    [amount] = drift.properties
    assert (amount.path, amount.before, amount.after) == ("properties.amount", 5000.0, 500.0)

    assert budgets.apply(specs, store) == [dev.address]
    put = fake.writes()[-1]
    assert put.body["eTag"] == etag_read
    assert put.body["properties"]["timePeriod"]["startDate"] == start  # kept once set
    assert fake.budgets[dev.address.lower()]["properties"]["amount"] == 500.0


def test_a_change_made_between_read_and_write_is_refused_not_overwritten(
    tmp_path: Path, fake: FakeBudgets, store: Budgets
) -> None:
    """The eTag read goes with the write: Azure answers 412 when the budget moved since."""
    specs = budgets.environment_budgets(_project(tmp_path))
    budgets.apply(specs, store)
    dev = specs[0]
    fake.change_in_portal(dev.address, amount=1.0)
    stale = store.get(dev.scope, dev.name)
    fake.change_in_portal(dev.address, amount=2.0)  # someone else, after our read

    with pytest.raises(BackendError, match="PreconditionFailed"):
        store.create_or_update(
            dev.scope, dev.name, {**dev.body("2026-11-01T00:00:00Z"), "eTag": stale["eTag"]}
        )
    assert fake.budgets[dev.address.lower()]["properties"]["amount"] == 2.0


def test_throttling_is_retried_and_permission_denied_names_the_role(
    tmp_path: Path, fake: FakeBudgets, store: Budgets
) -> None:
    specs = budgets.environment_budgets(_project(tmp_path))
    fake.faults.append(Fault("PUT", "budgets/mlops-diagnosis-dev", 429, {"Retry-After": "0"}))
    assert len(budgets.apply(specs, store)) == 2

    fake.faults.append(Fault("GET", "budgets/", 403, times=10))
    with pytest.raises(BackendError) as denied:
        budgets.plan(specs, store)
    assert "Cost Management Contributor" in (denied.value.hint or "")


def test_a_budget_must_alert_someone_azure_accepts(tmp_path: Path) -> None:
    no_email = COST.replace("      contact_emails: [ml-platform-owners@contoso.com]\n", "", 1)
    too_many = COST.replace("[50, 90, 100]", "[10, 20, 30, 40, 50]").replace(
        "forecast: false", "forecast: true"
    )
    for text, path, said in (
        (no_email, "cost.budgets.dev.contact_emails", ""),
        (too_many, "cost.budgets.test", "5 notifications an Azure budget holds"),
    ):
        with pytest.raises(ConfigError) as bad:
            _project(tmp_path, text)
        [issue] = bad.value.issues
        assert issue.path == path and said in issue.message


def test_a_budget_for_an_unknown_environment_is_bad_input(tmp_path: Path) -> None:
    loaded = _project(tmp_path, COST.replace("    test:", "    staging:"))
    with pytest.raises(BadInputError, match=r"cost\.budgets\.staging"):
        budgets.environment_budgets(loaded)


def test_provision_applies_budgets_in_each_environments_own_subscription(
    tmp_path: Path, fake: FakeBudgets
) -> None:
    """What `mlops provision` calls (`apply_all`): an environment with its own subscription
    gets its budget there; a second call converges."""
    other = "33333333-3333-3333-3333-333333333333"
    loaded = _project(tmp_path)
    text = loaded.path.read_text(encoding="utf-8").replace(
        "  test:\n    approval:", f"  test:\n    subscription_id: {other}\n    approval:", 1
    )
    loaded.path.write_text(text, encoding="utf-8")
    loaded = load_config(loaded.path)
    clients = AzureClients(FakeCredential(), fake, {"retry_backoff_factor": 0.01})

    written = budgets.apply_all(loaded, clients)

    assert sorted(a.split("/")[2] for a in written) == sorted([SUB, other])
    assert [c.action for c in budgets.plan_all(loaded, clients)] == ["no-change", "no-change"]
    assert budgets.apply_all(loaded, clients) == []
