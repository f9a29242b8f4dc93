"""The DevOps tests' fixtures: the infrastructure tests' configs, the ARM fake and clients, and
the vnet project with an identity per purpose (promotion; prod's own deployment identity)."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from mlops.services import infra
from tests.devops.ado_fake import AdoFake
from tests.infra.arm_fake import FakeArm
from tests.infra.conftest import arm, clients, copy_config, vnet_project

__all__ = ["arm", "clients", "deployed_pools", "platform_project", "vnet_project"]

PROMOTION_CLIENT = "1d000000-0000-4000-8000-000000000009"
PROD_DEPLOYMENT_CLIENT = "1d000000-0000-4000-8000-00000000000a"
PROMOTION_OBJECT = "0d000000-0000-4000-8000-000000000009"
PROMOTION = f"  promotion: {{client_id: {PROMOTION_CLIENT}, object_id: {PROMOTION_OBJECT}}}\n"
DEPLOYMENT = f"""\
  deployment:
    prod: {{client_id: {PROD_DEPLOYMENT_CLIENT}, object_id: 0d000000-0000-4000-8000-00000000000a}}
"""


def with_purposes(path: Path) -> Path:
    """The config with a promotion identity (unless it has one) and prod's own deployment
    identity (test keeps `identities.cicd.test`, the fallback)."""
    text = path.read_text()
    purposes = DEPLOYMENT if "  promotion:" in text else PROMOTION + DEPLOYMENT
    path.write_text(text.replace("  cicd:\n", purposes + "  cicd:\n", 1))
    return path


@pytest.fixture
def platform_project(tmp_path: Path) -> LoadedConfig:
    return load_config(with_purposes(copy_config("vnet", tmp_path)))


def without_promotion(path: Path) -> Path:
    """The config with no promotion identity (whether or not it had one)."""
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.startswith("  promotion:")))
    return path


def deployed_pools(arm: FakeArm) -> Callable[[], list[str]]:
    """The Managed DevOps Pools the ARM fake holds: Azure DevOps gives each a queue in every
    project of the organization (a pool open to all projects, the default)."""

    def pools() -> list[str]:
        return sorted(
            resource["name"]
            for (_, kind, _), resource in arm.resources.items()
            if kind == "microsoft.devopsinfrastructure/pools"
        )

    return pools


#: the Entra groups the test configs name, as Entra knows them
GROUPS = {
    "0a000000-0000-4000-8000-000000000001": "sg-ml-platform-owners",
    "0b000000-0000-4000-8000-000000000002": "sg-ml-platform-engineers",
    "0c000000-0000-4000-8000-000000000003": "sg-ml-data-scientists",
    "0c000000-0000-4000-8000-000000000004": "sg-ml-churn-team",
}


@pytest.fixture
def ado(monkeypatch: pytest.MonkeyPatch, arm: FakeArm) -> Iterator[AdoFake]:
    """Azure DevOps, answered by the fake; signed in with an Entra token (no PAT)."""
    monkeypatch.delenv("AZURE_DEVOPS_EXT_PAT", raising=False)
    fake = AdoFake()
    fake.pools = deployed_pools(arm)  # the pools provisioning deploys bring their queues
    for object_id, name in GROUPS.items():
        fake.add_entra_group(object_id, name)
    with fake:
        yield fake


def provision_platform(loaded: LoadedConfig, clients: AzureClients) -> infra.ProvisionResult:
    """`mlops provision` of the whole platform (Azure DevOps included), with no waits."""
    return infra.provision(loaded, None, clients, poll_seconds=0.01, replication_delays=(0.0,))
