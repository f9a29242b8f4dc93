"""A team's `quotas.cores.<env>` becomes a workspace-level quota on each VM family of its
dedicated training clusters, set by `mlops provision` through Azure ML's quota API (no ARM
resource exists for it) and compared by `mlops plan`."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.errors import BackendError
from mlops.services import infra
from tests.infra.arm_fake import FakeCredential
from tests.teams_infra.conftest import loaded
from tests.teams_infra.quota_fake import FakeAzure


@pytest.fixture
def azure() -> FakeAzure:
    return FakeAzure()


@pytest.fixture
def clients(azure: FakeAzure) -> AzureClients:
    return AzureClients(FakeCredential(), azure, {"polling_interval": 0})


def test_provision_caps_the_teams_workspace_at_its_cores_per_vm_family_once(
    tmp_path: Path, azure: FakeAzure, clients: AzureClients
) -> None:
    project = loaded("teams", tmp_path)  # fraud: cores {dev: 32}; cpu-cluster Standard_DS3_v2

    result = infra.provision(project, "dev", clients, poll_seconds=0.01)

    (quota,) = result.quotas
    assert quota.endswith(
        "/workspaces/" + _workspace(result, "fraud") + "/quotas/standardDSv2Family"
    )
    (update,) = azure.updates
    assert update["value"] == [
        {
            "id": quota,
            "type": "Microsoft.MachineLearningServices/workspaces/quotas",
            "limit": 32,
            "unit": "Count",
        }
    ]
    assert azure.contract_errors == []
    again = infra.provision(project, "dev", clients, poll_seconds=0.01)
    assert again.quotas == [] and len(azure.updates) == 1
    (planned,) = [s for s in again.plan.stacks if s.stack == "quotas"]
    assert [c.action for c in planned.changes] == ["no-change"]


def _workspace(result: infra.ProvisionResult, team: str) -> str:
    grouped = result.plan.meta["teams"][team]
    return next(
        c["name"]
        for c in grouped
        if c["type"] == "Microsoft.MachineLearningServices/workspaces" and c["stack"] == "dev"
    )


def test_a_changed_quota_is_planned_as_a_modify_with_the_limit_before_and_after(
    tmp_path: Path, clients: AzureClients
) -> None:
    project = loaded("teams", tmp_path)
    infra.provision(project, "dev", clients, poll_seconds=0.01)
    project.path.write_text(
        project.path.read_text().replace("cores: {dev: 32}", "cores: {dev: 48}")
    )
    from mlops.config.loader import load_config

    plan = infra.plan(load_config(project.path), "dev", clients)

    (planned,) = [s for s in plan.stacks if s.stack == "quotas"]
    (change,) = planned.changes
    assert change.action == "modify"
    assert [(p.path, p.before, p.after) for p in change.properties] == [("limit", 32, 48)]
    assert (
        plan.meta["teams"]["fraud"][-1]["type"]
        == "Microsoft.MachineLearningServices/workspaces/quotas"
    )


def test_a_quota_above_the_subscriptions_is_refused_naming_the_workspace(
    tmp_path: Path, clients: AzureClients
) -> None:
    project = loaded("teams", tmp_path)
    project.path.write_text(
        project.path.read_text().replace("cores: {dev: 32}", "cores: {dev: 500}")
    )
    from mlops.config.loader import load_config

    with pytest.raises(BackendError) as raised:
        infra.provision(load_config(project.path), "dev", clients, poll_seconds=0.01)
    assert "InvalidQuotaExceedsSubscriptionLimit" in raised.value.message
    assert "mlw-fraud-dev-" in raised.value.message


def test_an_offline_plan_lists_each_quota_by_vm_size(tmp_path: Path) -> None:
    plan = infra.offline_plan(loaded("teams", tmp_path), None, "--offline")

    (planned,) = [s for s in plan.stacks if s.stack == "quotas"]
    assert [(c.action, c.name.split("/")[1]) for c in planned.changes] == [
        ("create", "Standard_DS3_v2")
    ]
