"""Azure budgets with alerts, planned and applied idempotently: per environment today, per
team tomorrow (a `BudgetSpec` is any scope, amount, contacts and thresholds).

`plan` reads each budget and compares what matters (amount, time grain, notifications) with
what mlops.yaml asks; `apply` writes only the budgets that differ, with the eTag it read, so
a second `apply` with unchanged config writes nothing. A budget's start date is kept once set
(Azure requires the first of a month, and a past one within the budget's period).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from mlops.plan.changes import PropertyChange, ResourceChange

if TYPE_CHECKING:
    from mlops.backends.azure.clients import AzureClients
    from mlops.config.loader import LoadedConfig

TYPE = "Microsoft.Consumption/budgets"
#: the marker in a budget's name: provisioning changes only budgets the platform made
PREFIX = "mlops-"
#: compared between desired and actual; the rest (spend, forecast, eTag) is Azure's
#: (`filter`: a team budget's resource groups and tag; the environments' budgets have none)
COMPARED = ("amount", "category", "timeGrain", "notifications", "filter")
_NOTIFICATION_KEYS = ("enabled", "operator", "threshold", "thresholdType", "contactEmails")
_NOTIFICATION_KEYS += ("contactRoles",)


class BudgetStore(Protocol):
    """What planning and applying need from Azure (`mlops.backends.azure.consumption`)."""

    def get(self, scope: str, name: str) -> dict[str, Any] | None: ...

    def create_or_update(self, scope: str, name: str, body: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class BudgetSpec:
    """A monthly cost budget on `scope` alerting `contact_emails` and the holders of
    `contact_roles` at each threshold (percent of `amount`), and on the forecast."""

    scope: str
    name: str
    amount: float
    thresholds: tuple[float, ...]
    contact_emails: tuple[str, ...] = ()
    contact_roles: tuple[str, ...] = ()
    forecast: bool = True

    @property
    def address(self) -> str:
        return f"{self.scope}/providers/{TYPE}/{self.name}"

    def notifications(self) -> dict[str, dict[str, Any]]:
        """Azure's notification shape, keyed as the portal keys them
        (`Actual_GreaterThan_80_Percent`): the API takes `operator` EqualTo, GreaterThan or
        GreaterThanOrEqualTo and `thresholdType` Actual or Forecasted
        (learn.microsoft.com/rest/api/consumption/budgets/create-or-update#notification)."""
        made: dict[str, dict[str, Any]] = {}
        kinds = [("Actual", t) for t in self.thresholds]
        if self.forecast:
            kinds.append(("Forecasted", max(self.thresholds)))
        for kind, threshold in kinds:
            made[f"{kind}_GreaterThan_{threshold:g}_Percent"] = {
                "enabled": True,
                "operator": "GreaterThan",
                "threshold": threshold,
                "thresholdType": kind,
                "contactEmails": sorted(self.contact_emails),
                "contactRoles": sorted(self.contact_roles),
            }
        return made

    def body(self, start: str) -> dict[str, Any]:
        return {
            "properties": {
                "category": "Cost",
                "amount": self.amount,
                "timeGrain": "Monthly",
                # "The start date must be first of the month ... Future start date should not
                # be more than twelve months. Past start date should be selected within the
                # timegrain period" (learn.microsoft.com/rest/api/consumption/budgets/
                # create-or-update)
                "timePeriod": {"startDate": start},
                "notifications": self.notifications(),
            }
        }


def first_of_month(today: date | None = None) -> str:
    day = today or datetime.now(UTC).date()
    return f"{day.year:04d}-{day.month:02d}-01T00:00:00Z"


def environment_budgets(loaded: LoadedConfig) -> list[BudgetSpec]:
    """One budget per environment `cost.budgets` names, on its resource group; the platform
    owners are the contacts unless the budget names its own."""
    from mlops.errors import BadInputError

    config = loaded.config
    specs = []
    for env, budget in sorted(config.cost.budgets.items()):
        if env not in config.environments.azure:
            raise BadInputError(
                f"{loaded.path.name}: cost.budgets.{env}: '{env}' is not an Azure environment",
                hint=f"budget one of: {', '.join(config.environments.azure) or '(none)'}",
            )
        spec = config.environments.azure[env]
        subscription = spec.subscription_id or config.azure.subscription_id
        if subscription is None:
            raise BadInputError(
                f"{loaded.path.name}: cost.budgets.{env}: no subscription to budget in",
                hint="set azure.subscription_id (az account show --query id -o tsv)",
            )
        names = config.environment_names(env)
        scope = f"/subscriptions/{subscription}/resourceGroups/{names.resource_group}"
        specs.append(
            BudgetSpec(
                scope=scope,
                name=f"{PREFIX}{config.project.name}-{env}",
                amount=budget.amount,
                thresholds=tuple(budget.thresholds),
                contact_emails=tuple(budget.contact_emails),
                contact_roles=tuple(budget.contact_roles),
                forecast=budget.forecast,
            )
        )
    return specs


def _compared(body: dict[str, Any] | None) -> dict[str, Any]:
    props = (body or {}).get("properties") or {}
    out = {k: props.get(k) for k in COMPARED}
    out["filter"] = out["filter"] or None  # none sent and {} or null read back: the same
    if out["amount"] is not None:
        out["amount"] = float(out["amount"])
    notes = out["notifications"] or {}
    out["notifications"] = {
        key: {
            k: (sorted(v) if isinstance(v, list) else float(v) if k == "threshold" else v)
            for k, v in note.items()
            if k in _NOTIFICATION_KEYS and not (isinstance(v, list) and not v)
        }
        for key, note in notes.items()
    }
    return out


def _diff(desired: dict[str, Any], actual: dict[str, Any]) -> tuple[PropertyChange, ...]:
    return tuple(
        PropertyChange(f"properties.{k}", "modify", before=actual[k], after=desired[k])
        for k in COMPARED
        if desired[k] != actual[k]
    )


def plan(specs: Iterable[BudgetSpec], store: BudgetStore) -> tuple[ResourceChange, ...]:
    """A create, modify (with each property that differs) or no-change per budget."""
    changes = []
    for spec in specs:
        actual = store.get(spec.scope, spec.name)
        desired = _compared(spec.body(first_of_month()))
        if actual is None:
            props = tuple(
                PropertyChange(f"properties.{k}", "create", after=v) for k, v in desired.items()
            )
            changes.append(ResourceChange("create", TYPE, spec.name, spec.address, props))
            continue
        diff = _diff(desired, _compared(actual))
        action = "modify" if diff else "no-change"
        changes.append(ResourceChange(action, TYPE, spec.name, spec.address, diff))
    return tuple(changes)


def apply(
    specs: Iterable[BudgetSpec],
    store: BudgetStore,
    notify: Callable[[str, str], None] | None = None,
) -> list[str]:
    """Write each budget that differs from Azure's (nothing when none does); returns the
    addresses written. An existing budget keeps its start date and is written with the
    eTag read, so a concurrent change fails loudly rather than being lost."""
    say = notify or (lambda *_: None)
    written = []
    for spec in specs:
        actual = store.get(spec.scope, spec.name)
        start = first_of_month()
        if actual is not None:
            start = ((actual.get("properties") or {}).get("timePeriod") or {}).get(
                "startDate"
            ) or start
        body = spec.body(str(start))
        if actual is not None and not _diff(_compared(body), _compared(actual)):
            continue
        if actual is not None and actual.get("eTag"):
            body["eTag"] = actual["eTag"]
        store.create_or_update(spec.scope, spec.name, body)
        say("created" if actual is None else "updated", f"budget {spec.name} on {spec.scope}")
        written.append(spec.address)
    return written


def _stores(
    specs: list[BudgetSpec], clients: AzureClients
) -> list[tuple[BudgetStore, list[BudgetSpec]]]:
    """The specs grouped by subscription, each group with its budgets client."""
    from mlops.backends.azure.consumption import Budgets

    groups: dict[str, list[BudgetSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.scope.split("/")[2], []).append(spec)
    return [(Budgets.from_clients(clients, sub), group) for sub, group in sorted(groups.items())]


def plan_all(loaded: LoadedConfig, clients: AzureClients) -> tuple[ResourceChange, ...]:
    """`plan` of every budget mlops.yaml asks for, in whichever subscriptions they are."""
    specs = environment_budgets(loaded)
    return tuple(c for store, group in _stores(specs, clients) for c in plan(group, store))


def apply_all(
    loaded: LoadedConfig, clients: AzureClients, notify: Callable[[str, str], None] | None = None
) -> list[str]:
    """`apply` of every budget mlops.yaml asks for: what `mlops provision` calls."""
    specs = environment_budgets(loaded)
    return [a for store, group in _stores(specs, clients) for a in apply(group, store, notify)]


# --- per team (issue 21): a budget per team, filtered to the team's tagged resources --------
#: the tag every team resource carries (mlops.render.infra.teams.TEAM_TAG)
TEAM_TAG = "mlops-team"


@dataclass(frozen=True)
class TeamBudgetSpec(BudgetSpec):
    """A budget on the subscription that counts only the team's resources in the platform's
    resource groups: a filter on the team's tag AND those resource groups. Budgets "support
    filters on resource group, resource, meter and tags" (BudgetFilter: `and`, `dimensions`
    with ResourceGroupName, `tags`, learn.microsoft.com/rest/api/consumption/budgets/
    create-or-update#budgetfilter); the tag rides on the team's workspace, storage account,
    private endpoints and computes. Usage carries a resource's tags for most types, not all
    ("Tags and billing", learn.microsoft.com/azure/azure-resource-manager/management/
    tag-resources): what a type does not tag in usage escapes the team's budget."""

    team: str = ""
    resource_groups: tuple[str, ...] = ()

    def filter(self) -> dict[str, Any]:
        return {
            "and": [
                {
                    "dimensions": {
                        "name": "ResourceGroupName",
                        "operator": "In",
                        "values": list(self.resource_groups),
                    }
                },
                {"tags": {"name": TEAM_TAG, "operator": "In", "values": [self.team]}},
            ]
        }

    def body(self, start: str) -> dict[str, Any]:
        made = super().body(start)
        made["properties"]["filter"] = self.filter()
        return made


def team_budgets(loaded: LoadedConfig, envs: Iterable[str] | None = None) -> list[BudgetSpec]:
    """One budget per team with `quotas.monthly_budget`, per subscription holding the
    selected environments (`envs`, default all), alerting the team's contacts and the
    platform owners' (every `cost.budgets` contact) and the subscription's Owners."""
    from mlops.errors import BadInputError

    config = loaded.config
    selected = [e for e in config.environments.azure if envs is None or e in set(envs)]
    by_subscription: dict[str, list[str]] = {}
    for env in selected:
        spec = config.environments.azure[env]
        subscription = spec.subscription_id or config.azure.subscription_id
        if subscription is None:
            raise BadInputError(
                f"{loaded.path.name}: teams: no subscription to budget the teams in",
                hint="set azure.subscription_id (az account show --query id -o tsv)",
            )
        groups = by_subscription.setdefault(subscription, [])
        groups.append(config.environment_names(env).resource_group)
    owners = sorted({e for b in config.cost.budgets.values() for e in b.contact_emails})
    specs: list[BudgetSpec] = []
    for team, spec in sorted(config.teams.items()):
        amount = spec.quotas.monthly_budget
        if amount is None:
            continue
        contacts = tuple(sorted({*spec.contacts, *owners}))
        if not contacts:
            # "Must have at least one contact email or contact group specified at the
            # Subscription or Resource Group scopes" (the create-or-update page above)
            fix = f"add teams.{team}.contacts (or a cost.budgets contact, the platform owners')"
            raise BadInputError(
                f"{loaded.path.name}: teams.{team}.quotas.monthly_budget: nobody to alert",
                hint=fix,
            )
        for subscription, groups in sorted(by_subscription.items()):
            specs.append(
                TeamBudgetSpec(
                    scope=f"/subscriptions/{subscription}",
                    name=f"{PREFIX}{config.project.name}-team-{team}",
                    amount=amount,
                    thresholds=(80.0, 100.0),
                    contact_emails=contacts,
                    contact_roles=("Owner",),
                    team=team,
                    resource_groups=tuple(sorted(groups)),
                )
            )
    return specs
