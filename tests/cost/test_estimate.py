"""`mlops plan`'s monthly cost drivers and their rough estimate, from the vendored price
table; idle compute already scales to zero as rendered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops.config.loader import load_config
from mlops.cost.estimate import (
    HOURS_PER_MONTH,
    PRICES,
    drivers,
    estimate,
    lines,
    working_hours,
)
from mlops.render.files import render

REPO = Path(__file__).parents[2]
CONFIGS = REPO / "tests" / "infra" / "configs"
#: test prices (not Azure's): round numbers make the arithmetic checkable by eye
TABLE = {
    "source": "test table",
    "retrieved": "2026-11-29",
    "region": "westeurope",
    "currency": "USD",
    "usd_per_hour": {"Standard_DS3_v2": 0.5, "Standard_D4ds_v5": 0.25},
}


def test_the_vendored_table_names_its_source_region_currency_and_date() -> None:
    table = json.loads(PRICES.read_text(encoding="utf-8"))
    assert "prices.azure.com/api/retail/prices" in table["source"]
    assert {"region", "currency", "retrieved", "query", "usd_per_hour"} <= set(table)
    assert table["hours_per_month"] == HOURS_PER_MONTH == 8760 / 12
    for size, price in table["usd_per_hour"].items():
        assert size.startswith("Standard_") and (price is None or price > 0)


def test_drivers_are_cluster_nodes_endpoint_instances_and_agents_per_environment() -> None:
    config = load_config(REPO / "mlops.yaml").config
    report = estimate(config, TABLE)
    drivers = {(d["env"], d["what"]): d for d in report["drivers"]}

    cluster = drivers[("dev", "compute cluster cpu-cluster")]
    assert (cluster["size"], cluster["count_min"], cluster["count_max"]) == (
        "Standard_DS3_v2",
        0,
        4,
    )
    assert (cluster["monthly_min"], cluster["monthly_max"]) == (0.0, 4 * 730 * 0.5)
    assert ("dev", "online endpoint instances") not in drivers  # CD serves test and prod
    endpoint = drivers[("prod", "online endpoint instances")]
    assert endpoint["monthly_min"] == endpoint["monthly_max"] == 730 * 0.5
    assert drivers[("test", "build agents")]["usd_per_hour"] is None
    assert report["unpriced"] == ["Standard_D2ads_v5"]
    # always on: two endpoints at 365 each; at peak also three clusters of four nodes
    assert report["monthly_min"] == 730.0
    assert report["monthly_max"] == 730.0 + 3 * 4 * 730 * 0.5
    assert report["estimate"] is True


def test_kubernetes_serving_counts_both_node_pools() -> None:
    config = load_config(CONFIGS / "kubernetes.yaml").config
    whats = {d["what"] for d in estimate(config, TABLE)["drivers"]}
    assert {"AKS system pool", "AKS user pool"} <= whats
    assert "online endpoint instances" not in whats


def test_off_hours_endpoints_are_priced_for_working_hours_only(tmp_path: Path) -> None:
    text = (REPO / "mlops.yaml").read_text(encoding="utf-8")
    (tmp_path / "mlops.yaml").write_text(
        text + "\ncost:\n  off_hours:\n    environments: [test]\n", encoding="utf-8"
    )
    report = estimate(load_config(tmp_path / "mlops.yaml").config, TABLE)
    test = next(d for d in report["drivers"] if d["env"] == "test" and "endpoint" in d["what"])
    # 12 hours on 5 of 7 days: 60 of 168 hours a week
    assert test["hours"] == working_hours(["mon", "tue", "wed", "thu", "fri"], "07:00", "19:00")
    assert test["hours"] == round(60 / 168 * 730, 1)


def test_plan_lines_say_it_is_an_estimate_and_where_the_prices_come_from() -> None:
    text = "\n".join(lines(estimate(load_config(REPO / "mlops.yaml").config, TABLE)))
    assert "rough estimate" in text
    assert "prod   online endpoint instances: 1 x Standard_DS3_v2: 365.00-365.00 USD" in text
    assert "at westeurope prices (2026-11-29; test table)" in text
    assert "no price in the table for: Standard_D2ads_v5" in text


def test_training_clusters_as_rendered_scale_to_zero_after_the_idle_time() -> None:
    """AmlCompute scaleSettings: minNodeCount 0 keeps no node (and no cost) when idle, and
    nodeIdleTimeBeforeScaleDown is the idle time in ISO 8601 (learn.microsoft.com/azure/
    templates/microsoft.machinelearningservices/workspaces/computes#scalesettings)."""
    config = load_config(REPO / "mlops.yaml").config
    [main] = [f for f in render(config) if f.path == "infra/dev/main.json"]
    cluster = config.compute.clusters["cpu-cluster"]
    settings = json.loads(main.text)["variables"]["compute-cpu-cluster"]["properties"][
        "scaleSettings"
    ]
    assert settings == {
        "minNodeCount": 0,
        "maxNodeCount": cluster.max_nodes,
        "nodeIdleTimeBeforeScaleDown": f"PT{cluster.idle_seconds}S",
    }


def _item(size: str, price: float, **changes: object) -> dict:
    """One row of a Retail Prices API answer, with the fields the API documents (the prices
    are test values, not Azure's)."""
    short = size.removeprefix("Standard_").replace("_", " ")
    return {
        "currencyCode": "USD",
        "retailPrice": price,
        "unitPrice": price,
        "armRegionName": "westeurope",
        "location": "EU West",
        "effectiveStartDate": "2026-10-01T00:00:00Z",
        "meterName": short,
        "productName": "Virtual Machines DSv2 Series",
        "skuName": short,
        "serviceName": "Virtual Machines",
        "unitOfMeasure": "1 Hour",
        "type": "Consumption",
        "isPrimaryMeterRegion": True,
        "armSkuName": size,
        **changes,
    }


def test_saved_retail_prices_answers_price_the_estimate_with_linux_pay_as_you_go(
    tmp_path: Path,
) -> None:
    from tests.conftest import run_cli

    answer = {
        "BillingCurrency": "USD",
        "CustomerEntityId": "Default",
        "CustomerEntityType": "Retail",
        "Items": [
            _item("Standard_DS3_v2", 0.5),
            _item("Standard_DS3_v2", 0.9, productName="Virtual Machines DSv2 Series Windows"),
            _item("Standard_DS3_v2", 0.1, meterName="DS3 v2 Spot"),
            _item("Standard_DS3_v2", 0.2, meterName="DS3 v2 Low Priority"),
            _item("Standard_DS3_v2", 0.4, armRegionName="eastus"),
            _item("Standard_DS3_v2", 0.3, type="Reservation", unitOfMeasure="1 Hour"),
        ],
        "NextPageLink": None,
        "Count": 6,
    }
    saved = tmp_path / "ds3.json"
    saved.write_text(json.dumps(answer), encoding="utf-8")

    result = run_cli(
        "-c",
        str(REPO / "mlops.yaml"),
        "cost",
        "estimate",
        "--retail-prices",
        str(saved),
        "-o",
        "json",
    )

    assert result.exit_code == 0, result.stderr
    report = result.json()
    endpoint = next(d for d in report["drivers"] if d["what"] == "online endpoint instances")
    assert endpoint["usd_per_hour"] == 0.5
    assert report["unpriced"] == ["Standard_D2ads_v5"]
    assert report["prices_retrieved"] == "prices effective from 2026-10-01"
    saved.write_text("<html>", encoding="utf-8")
    bad = run_cli("-c", str(REPO / "mlops.yaml"), "cost", "estimate", "--retail-prices", str(saved))
    assert bad.exit_code == 2 and "--retail-prices" in bad.stderr


def _configs() -> list[Path]:
    return [REPO / "mlops.yaml", *sorted(CONFIGS.glob("*.yaml"))]


@pytest.mark.parametrize("path", _configs(), ids=lambda p: p.name)
def test_every_vm_size_rendered_has_a_row_in_the_vendored_table(path: Path) -> None:
    """A size with no row would be unpriced without anyone deciding so: each one the
    defaults and the test configurations render is listed, with a price or null."""
    table = json.loads(PRICES.read_text(encoding="utf-8"))
    sizes = {d.size for d in drivers(load_config(path).config)}
    assert sizes <= set(table["usd_per_hour"]), sorted(sizes - set(table["usd_per_hour"]))


@pytest.mark.parametrize("path", _configs(), ids=lambda p: p.name)
def test_the_estimate_on_the_vendored_table_is_price_times_nodes_times_hours(path: Path) -> None:
    """On the table as vendored: each priced driver costs its hourly price x its VM count x
    its hours a month (730 always on), the totals add the priced drivers up, and every size
    the table leaves null is named unpriced rather than counted as free."""
    table = json.loads(PRICES.read_text(encoding="utf-8"))
    prices = table["usd_per_hour"]
    report = estimate(load_config(path).config)

    for d in report["drivers"]:
        price = prices.get(d["size"])
        assert d["usd_per_hour"] == price
        if price is None:
            assert (d["monthly_min"], d["monthly_max"]) == (None, None)
            assert d["size"] in report["unpriced"]
        else:
            assert d["monthly_min"] == round(price * d["count_min"] * d["hours"], 2)
            assert d["monthly_max"] == round(price * d["count_max"] * d["hours"], 2)
    priced = [d for d in report["drivers"] if d["usd_per_hour"] is not None]
    assert report["monthly_min"] == round(sum(d["monthly_min"] for d in priced), 2)
    assert report["monthly_max"] == round(sum(d["monthly_max"] for d in priced), 2)
    assert report["unpriced"] == sorted(
        {s for s in (d["size"] for d in report["drivers"]) if prices.get(s) is None}
    )
    assert (report["region"], report["prices_retrieved"]) == (table["region"], table["retrieved"])
