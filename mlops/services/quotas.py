"""The cost side of `mlops plan` and `mlops provision`: budgets and the teams' workspace quotas.

Neither is an ARM resource the templates can hold (no ARM schema for budgets; a workspace
quota is set through the Azure ML usages API), so each is planned and applied as its own
stack after the infrastructure stacks: the environments' and teams' budgets through
mlops.services.budgets, the teams' `quotas.cores` through mlops.plan.quotas.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from mlops.config.loader import LoadedConfig
from mlops.errors import BadInputError
from mlops.plan.changes import Plan, StackPlan
from mlops.plan.quotas import QUOTAS
from mlops.render.files import SHARED

if TYPE_CHECKING:
    from mlops.backends.azure.clients import AzureClients

#: the selected environments' cost budgets (mlops.services.budgets): planned and applied
#: through the Consumption API after the other stacks (no ARM schema for them)
BUDGETS = "budgets"

#: (stack, event, detail): progress of a provision, for the CLI to show
OnEvent = Callable[[str, str, str], None]


class Selected(Protocol):
    """What these functions read of a selected stack (mlops.services.infra.Stack)."""

    name: str
    resource_group: str


class _NoBudgets:
    """A budget store that holds none: what an offline plan compares with."""

    def get(self, scope: str, name: str) -> dict[str, Any] | None:
        return None

    def create_or_update(self, scope: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("an offline plan writes nothing")


def _budget_specs(
    loaded: LoadedConfig, env: str | None, selected: Sequence[Selected]
) -> dict[str, list[Any]]:
    """The budgets of the selected environments (`--env E`: E's only), by subscription; the
    teams' budgets span every environment, so they come with the whole platform (no --env)."""
    from mlops.services import budgets

    out: dict[str, list[Any]] = {}
    if loaded.config.cost.budgets:
        groups = {s.resource_group.lower(): s for s in selected if s.name != SHARED}
        for spec in budgets.environment_budgets(loaded):
            if spec.scope.rsplit("/", 1)[1].lower() in groups:
                out.setdefault(spec.scope.split("/")[2], []).append(spec)
    if env is None and loaded.config.teams:
        for spec in budgets.team_budgets(loaded):
            out.setdefault(spec.scope.split("/")[2], []).append(spec)
    return out


def _budget_stores(
    loaded: LoadedConfig, env: str | None, selected: Sequence[Selected], clients: AzureClients
) -> list[tuple[Any, list[Any]]]:
    from mlops.backends.azure.consumption import Budgets

    groups = _budget_specs(loaded, env, selected)
    return [(Budgets.from_clients(clients, sub), specs) for sub, specs in sorted(groups.items())]


def _quota_envs(loaded: LoadedConfig, selected: Sequence[Selected]) -> list[str]:
    """The selected environments where a team sets workspace compute quotas."""
    teams = loaded.config.teams.values()
    names = [s.name for s in selected if s.name != SHARED]
    return [e for e in names if any(e in t.quotas.cores for t in teams)]


def _read_quotas(
    loaded: LoadedConfig, selected: Sequence[Selected], clients: AzureClients
) -> tuple[list[Any], dict[str, int | None]]:
    """The teams' workspace quotas with Azure's VM families, and the limits Azure reports."""
    from mlops.backends.azure import arm
    from mlops.plan import quotas

    envs = _quota_envs(loaded, selected)
    if not envs or not quotas.dedicated_sizes(loaded.config):
        return [], {}
    places = {(q.subscription_id, q.location) for q in quotas.wanted(loaded.config, envs, {})}
    families: dict[str, dict[str, str]] = {}
    observed: dict[str, int | None] = {}
    for sub, location in sorted(places):
        if not location:
            raise BadInputError(
                f"{loaded.path.name}: teams' quotas.cores need the environment's region",
                hint="set azure.location (or environments.<env>.location)",
            )
        resources = clients.resources(sub)
        families[location] = arm.ml_vm_families(resources, sub, location)
        observed |= arm.ml_quotas(resources, sub, location)
    return quotas.wanted(loaded.config, envs, families), observed


def offline_stacks(
    loaded: LoadedConfig, env: str | None, selected: Sequence[Selected]
) -> list[StackPlan]:
    """The budgets and quotas as creates, with no Azure call (an offline plan)."""
    from mlops.plan import quotas
    from mlops.services import budgets

    out = []
    try:
        specs = [s for group in _budget_specs(loaded, env, selected).values() for s in group]
    except BadInputError as exc:  # a budget's scope needs the subscription: say, plan the rest
        note = f"WARNING budgets not planned: {exc.message} ({exc.hint})"
        out.append(StackPlan(BUDGETS, "", None, None, (), (note,)))
        specs = []
    if specs:
        out.append(StackPlan(BUDGETS, "", None, None, budgets.plan(specs, _NoBudgets())))
    envs = _quota_envs(loaded, selected)
    if envs and quotas.dedicated_sizes(loaded.config):
        wanted = quotas.wanted(loaded.config, envs, {})  # VM sizes: families need Azure
        out.append(StackPlan(QUOTAS, "", None, None, quotas.changes(wanted, {})))
    return out


def plan_stacks(
    loaded: LoadedConfig, env: str | None, selected: Sequence[Selected], clients: AzureClients
) -> list[StackPlan]:
    """The budgets and the teams' quotas compared with what Azure holds."""
    from mlops.plan import quotas
    from mlops.services import budgets

    out = []
    planned = [
        c
        for store, specs in _budget_stores(loaded, env, selected, clients)
        for c in budgets.plan(specs, store)
    ]
    if planned:
        out.append(StackPlan(BUDGETS, "", None, True, tuple(planned)))
    wanted, observed = _read_quotas(loaded, selected, clients)
    if wanted:
        out.append(StackPlan(QUOTAS, "", None, True, quotas.changes(wanted, observed)))
    return out


def apply_budgets(
    loaded: LoadedConfig,
    env: str | None,
    selected: Sequence[Selected],
    clients: AzureClients,
    fresh: Plan,
    notify: OnEvent,
) -> list[str] | None:
    """Write the budgets the plan shows differing; None when it shows none (nothing applied),
    else the budget ids written."""
    from mlops.services import budgets

    planned = fresh.stack(BUDGETS)
    if planned is None or not planned.has_writes:
        return None
    written: list[str] = []
    for store, specs in _budget_stores(loaded, env, selected, clients):
        written += budgets.apply(specs, store, lambda event, detail: notify(BUDGETS, event, detail))
    return written


def apply_quotas(
    loaded: LoadedConfig,
    selected: Sequence[Selected],
    clients: AzureClients,
    fresh: Plan,
    notify: OnEvent,
) -> list[str] | None:
    """Set each team quota Azure does not hold yet (read again: the stacks just made the
    workspaces); None when the plan shows none, else the quota ids written."""
    from mlops.backends.azure import arm

    planned = fresh.stack(QUOTAS)
    if planned is None or not planned.has_writes:
        return None
    wanted, observed = _read_quotas(loaded, selected, clients)
    groups: dict[tuple[str, str], list[Any]] = {}
    for quota in wanted:
        if observed.get(quota.id.lower()) != quota.limit:
            groups.setdefault((quota.subscription_id, quota.location), []).append(quota)
    for (sub, location), group in sorted(groups.items()):
        arm.update_ml_quotas(clients.resources(sub), sub, location, [q.body() for q in group])
        for quota in group:
            notify(QUOTAS, "set", f"{quota.name}: {quota.limit} cores ({quota.team})")
    return [q.id for group in groups.values() for q in group]
