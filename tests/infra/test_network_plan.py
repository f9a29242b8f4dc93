"""`mlops plan --offline` shows, per resource, the settings a reviewer approves: public
access, isolation, SKU, network rules and each subnet's outbound path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
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
