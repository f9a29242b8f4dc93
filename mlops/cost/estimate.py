"""What the rendered platform costs each month, roughly: its cost drivers and an estimate.

Pure: reads the config and the vendored price table (`prices.json`, with its source, region,
date and currency), imports no SDK. The drivers are the VMs mlops renders: compute cluster
nodes (min always on, max at peak), online endpoint instances, AKS node pools and the build
agents of the Managed DevOps Pools. Storage, networking, Log Analytics ingestion and the Azure
ML registry are left out: this is a rough estimate, and says so.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mlops.config.root import Config

PRICES = Path(__file__).with_name("prices.json")
DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
#: a month in the price table's unit: 8760 hours a year / 12
HOURS_PER_MONTH = 730
#: an AKS cluster's system pool (mlops.render.infra.aks: two nodes, tainted for add-ons)
AKS_SYSTEM_NODES = 2


@dataclass(frozen=True)
class Driver:
    """One thing that costs money while it runs: `count_min` VMs always, up to `count_max`,
    for `hours` a month."""

    env: str
    what: str
    size: str
    count_min: int
    count_max: int
    hours: float = HOURS_PER_MONTH


@dataclass(frozen=True)
class PricedDriver:
    driver: Driver
    usd_per_hour: float | None

    @property
    def monthly_min(self) -> float | None:
        return self._monthly(self.driver.count_min)

    @property
    def monthly_max(self) -> float | None:
        return self._monthly(self.driver.count_max)

    def _monthly(self, count: int) -> float | None:
        if self.usd_per_hour is None:
            return None
        return round(count * self.driver.hours * self.usd_per_hour, 2)


@cache
def price_table(path: Path = PRICES) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def retail_prices(responses: list[dict[str, Any]], region: str) -> dict[str, Any]:
    """A price table from Azure Retail Prices API answers (`{"Items": [...]}`, as
    `GET https://prices.azure.com/api/retail/prices?$filter=...` returns them): per
    armSkuName in `region`, the pay-as-you-go Linux price per hour, that is the row of type
    Consumption in 1 Hour units whose productName does not end in Windows and whose meterName
    is neither Spot nor Low Priority (the fields of
    learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices)."""
    prices: dict[str, float] = {}
    currency, newest = None, ""
    for response in responses:
        for item in response.get("Items") or []:
            meter = str(item.get("meterName", ""))
            if (
                item.get("armRegionName") != region
                or item.get("type") != "Consumption"
                or item.get("unitOfMeasure") != "1 Hour"
                or str(item.get("productName", "")).endswith("Windows")
                or "Spot" in meter
                or "Low Priority" in meter
                or item.get("isPrimaryMeterRegion") is False
            ):
                continue
            prices[str(item["armSkuName"])] = float(item["retailPrice"])
            currency = currency or item.get("currencyCode")
            newest = max(newest, str(item.get("effectiveStartDate", ""))[:10])
    return {
        "source": "Azure Retail Prices API answers given to `mlops cost estimate --retail-prices`",
        "retrieved": f"prices effective from {newest}" if newest else None,
        "region": region,
        "currency": currency or "USD",
        "usd_per_hour": prices,
    }


def working_hours(days: list[str], start: str, end: str) -> float:
    """Hours a month an off-hours endpoint runs: its working hours on its working days."""
    (sh, sm), (eh, em) = (map(int, start.split(":")), map(int, end.split(":")))
    per_day = (eh * 60 + em - sh * 60 - sm) / 60
    return round(per_day * len(set(days)) * HOURS_PER_MONTH / (7 * 24), 1)


def drivers(config: Config) -> list[Driver]:
    """Every VM the rendered platform may run, per Azure environment."""
    envs = list(config.environments.azure)
    serving = envs[1:] or envs  # CD deploys to the later environments (mlops.render.pipelines)
    off = config.cost.off_hours
    found: list[Driver] = []
    for env in envs:
        for name, cluster in sorted(config.compute.clusters.items()):
            found.append(
                Driver(
                    env,
                    f"compute cluster {name}",
                    cluster.size,
                    cluster.min_nodes,
                    cluster.max_nodes,
                )
            )
        if env in serving:
            deployment = config.deployment
            hours = float(HOURS_PER_MONTH)
            if off is not None and env in off.environments:
                hours = working_hours(list(off.days), off.start, off.end)
            if deployment.target == "managed":
                count = deployment.instance_count
                found.append(
                    Driver(
                        env,
                        "online endpoint instances",
                        deployment.instance_type,
                        count,
                        count,
                        hours,
                    )
                )
            else:
                aks = config.compute.kubernetes
                found.append(
                    Driver(
                        env,
                        "AKS system pool",
                        aks.system_vm_size,
                        AKS_SYSTEM_NODES,
                        AKS_SYSTEM_NODES,
                    )
                )
                found.append(
                    Driver(env, "AKS user pool", aks.node_vm_size, aks.min_nodes, aks.max_nodes)
                )
        # each environment's Managed DevOps Pool: no standby agent, up to max_agents
        agents = config.network.build_agents
        found.append(Driver(env, "build agents", agents.vm_size, 0, agents.max_agents))
    return found


def estimate(config: Config, table: dict[str, Any] | None = None) -> dict[str, Any]:
    """The drivers with their monthly cost at the table's prices, the totals of what is
    priced, and the sizes the table has no price for."""
    table = table or price_table()
    prices = table.get("usd_per_hour") or {}
    priced = [PricedDriver(d, prices.get(d.size)) for d in drivers(config)]
    known = [p for p in priced if p.usd_per_hour is not None]
    return {
        "estimate": True,
        "note": "a rough estimate: pay-as-you-go Linux VM prices only, without storage,"
        " networking, monitoring or discounts",
        "currency": table.get("currency", "USD"),
        "region": table.get("region"),
        "prices_retrieved": table.get("retrieved"),
        "source": table.get("source"),
        "drivers": [
            {
                **asdict(p.driver),
                "usd_per_hour": p.usd_per_hour,
                "monthly_min": p.monthly_min,
                "monthly_max": p.monthly_max,
            }
            for p in priced
        ],
        "monthly_min": round(sum(p.monthly_min or 0 for p in known), 2),
        "monthly_max": round(sum(p.monthly_max or 0 for p in known), 2),
        "unpriced": sorted({p.driver.size for p in priced if p.usd_per_hour is None}),
    }


def lines(report: dict[str, Any]) -> list[str]:
    """The estimate as text for `mlops plan`: one line per driver, then the totals."""
    out = [f"Monthly cost drivers ({report['note']}):"]
    for d in report["drivers"]:
        hours = "" if d["hours"] == HOURS_PER_MONTH else f", {d['hours']:g} h/month"
        span = (
            str(d["count_min"])
            if d["count_min"] == d["count_max"]
            else (f"{d['count_min']}-{d['count_max']}")
        )
        cost = (
            "unpriced"
            if d["usd_per_hour"] is None
            else f"{d['monthly_min']:,.2f}-{d['monthly_max']:,.2f} {report['currency']}"
        )
        out.append(f"  {d['env']:<6} {d['what']}: {span} x {d['size']}{hours}: {cost}")
    when = report["prices_retrieved"] or "not retrieved"
    if any(d["usd_per_hour"] is not None for d in report["drivers"]):
        total = f"{report['monthly_min']:,.2f}-{report['monthly_max']:,.2f} {report['currency']}"
        out.append(
            f"  estimate: {total}/month at {report['region']} prices ({when}; {report['source']})"
        )
    else:
        out.append(f"  estimate: none, the price table ({when}; {report['source']}) has no price")
    if report["unpriced"]:
        out.append(f"  no price in the table for: {', '.join(report['unpriced'])}")
    return out
