"""`mlops plan` shows, per resource, the settings a reviewer approves: public access,
isolation, SKU, network rules and each subnet's outbound path; offline, and in what-if's
creates when signed in to Azure."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.cli.infra import show_plan
from mlops.config.loader import load_config
from mlops.services import infra
from tests.conftest import run_cli
from tests.infra.arm_fake import FakeArm
from tests.infra.conftest import copy_config


def test_offline_plan_shows_public_access_isolation_and_sku_of_the_workspace_and_dependencies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_config("vnet", tmp_path)
    monkeypatch.chdir(tmp_path)

    result = run_cli("plan", "--offline", "--env", "dev")

    out = result.stdout
    blocks = {}
    for block in out.split("\n  + create")[1:]:
        rtype = block.split()[0]
        blocks[rtype] = block
    for rtype in (
        "Microsoft.MachineLearningServices/workspaces",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.KeyVault/vaults",
        "Microsoft.ContainerRegistry/registries",
    ):
        assert "publicNetworkAccess:" in blocks[rtype], rtype
        assert "sku.name:" in blocks[rtype], rtype
    assert (
        "managedNetwork.isolationMode: Disabled"
        in blocks["Microsoft.MachineLearningServices/workspaces"]
    )
    vnet = blocks["Microsoft.Network/virtualNetworks"]
    assert "subnets.snet-training: 10.40.1.0/24, outbound: route table" in vnet
    assert "routes.default-to-firewall: 0.0.0.0/0 -> VirtualAppliance 10.40.3.4" in out


def test_a_plan_against_azure_shows_the_same_settings_in_what_ifs_creates_and_modifies_as_is(
    tmp_path: Path, clients: AzureClients, arm: FakeArm, capsys: pytest.CaptureFixture[str]
) -> None:
    path = copy_config("vnet", tmp_path)
    loaded = load_config(path)
    # the resource group exists and holds only the storage account, as an earlier run left it
    stack = next(s for s in infra.select(loaded, "dev") if s.name == "dev")
    storage = next(r for r in stack.arm()["resources"] if "storageAccounts" in r["type"])
    arm.hold("rg-contoso-churn-dev", {"resources": [storage]})
    arm.resources[("rg-contoso-churn-dev", storage["type"].lower(), storage["name"].lower())][
        "properties"
    ]["minimumTlsVersion"] = "TLS1_0"  # changed by hand since

    plan = infra.plan(loaded, "dev", clients)

    (dev,) = [s for s in plan.stacks if s.stack == "dev"]
    changes = {c.type: c for c in dev.changes}
    workspace = changes["Microsoft.MachineLearningServices/workspaces"]
    assert workspace.action == "create"  # from what-if, not from the offline listing
    shown = {p.path: p.after for p in workspace.properties}
    assert shown["publicNetworkAccess"] == "Disabled"
    assert shown["managedNetwork.isolationMode"] == "Disabled"
    assert shown["sku.name"] == "Basic"
    # a modify shows what-if's own differences only
    modified = changes["Microsoft.Storage/storageAccounts"]
    assert modified.action == "modify"
    assert [(p.path, p.before, p.after) for p in modified.properties] == [
        ("properties.minimumTlsVersion", "TLS1_0", "TLS1_2")
    ]
    show_plan(plan)
    assert "publicNetworkAccess: Disabled" in capsys.readouterr().out
