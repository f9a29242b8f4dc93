"""One `mlops provision` at a time per project: a stack still deploying (another run, or one
left going by Ctrl-C) stops the next run before it writes anything, roles and Azure DevOps
included."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from mlops.backends.azure import clients as azure_clients
from mlops.backends.azure.clients import AzureClients
from mlops.cli._group import EXIT_TERMINATED
from mlops.config.loader import LoadedConfig, load_config
from mlops.errors import BackendError
from mlops.plan import stacks as facts
from mlops.services import infra
from tests.conftest import run_cli
from tests.infra.arm_fake import FakeArm
from tests.infra.conftest import copy_config

DEV = ("rg-contoso-churn-dev", "mlops-churn-dev")
SHARED = ("rg-contoso-churn-shared", "mlops-churn-shared")


def _provision(loaded: LoadedConfig, clients: AzureClients, **kwargs) -> infra.ProvisionResult:
    return infra.provision(loaded, "dev", clients, poll_seconds=0.01, **kwargs)


def _bigger_cluster(path: Path) -> LoadedConfig:
    path.write_text(path.read_text().replace("max_nodes: 4", "max_nodes: 8"))
    return load_config(path)


def test_stack_names_carry_the_project_so_projects_sharing_a_resource_group_keep_apart(
    vnet_project: LoadedConfig,
) -> None:
    names = {s.name: s.deployment_name for s in infra.select(vnet_project, None)}
    assert names == {
        "shared": "mlops-churn-shared",
        "dev": "mlops-churn-dev",
        "test": "mlops-churn-test",
        "prod": "mlops-churn-prod",
    }
    # project names have at most 24 characters, environment names 10: a stack name fits
    assert len(facts.stack_name("p" * 24, "x" * 10)) <= facts.NAME_MAX


def test_a_second_provision_while_a_stack_of_this_project_deploys_is_refused_naming_it(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    _provision(vnet_project, clients)
    running = arm.start_elsewhere(*DEV)  # another run's update, still deploying
    writes = len(arm.writes())

    with pytest.raises(BackendError) as refused:
        _provision(vnet_project, clients)

    message = refused.value.message
    assert "deployment stack mlops-churn-dev in rg-contoso-churn-dev is deploying" in message
    assert f"started {running['systemData']['lastModifiedAt'][:19]}" in message
    assert running["properties"]["correlationId"] in message
    assert "az stack group show -g rg-contoso-churn-dev -n mlops-churn-dev" in (
        refused.value.hint or ""
    )
    assert len(arm.writes()) == writes  # nothing written, roles included
    # the plan still shows, and says it may be stale
    dev = infra.plan(vnet_project, "dev", clients).stack("dev")
    assert dev is not None
    assert any("mlops-churn-dev" in d and "deploying" in d for d in dev.diagnostics)


def test_a_stack_in_a_terminal_state_does_not_hold_the_lock(
    vnet_project: LoadedConfig, clients: AzureClients, arm: FakeArm
) -> None:
    _provision(vnet_project, clients)
    for state in ("failed", "canceled", "Succeeded"):
        arm.start_elsewhere(*DEV)["properties"]["provisioningState"] = state
        _provision(vnet_project, clients)  # no error


def test_roles_wait_for_no_other_run_another_stack_started_meanwhile_stops_them(
    tmp_path: Path, clients: AzureClients, arm: FakeArm
) -> None:
    path = copy_config("vnet", tmp_path)
    _provision(load_config(path), clients)
    text = path.read_text().replace(
        "    - {name: sg-ml-churn-team, object_id: 0c000000-0000-4000-8000-000000000004}\n",
        "    - {name: sg-ml-churn-team, object_id: 0c000000-0000-4000-8000-000000000004}\n"
        "    - {name: sg-ml-new-team, object_id: 0c000000-0000-4000-8000-000000000009}\n",
    )
    path.write_text(text)
    loaded = _bigger_cluster(path)
    plan = infra.plan(loaded, "dev", clients)
    roles = plan.stack("roles")
    assert roles is not None and roles.has_writes

    def another_run(method: str, request_path: str) -> None:
        # while this run deploys dev, another run of the project starts the shared stack
        if method == "PUT" and request_path.endswith("/deploymentStacks/mlops-churn-dev"):
            arm.on_request = None
            arm.start_elsewhere(*SHARED)

    arm.on_request = another_run
    with pytest.raises(BackendError, match="mlops-churn-shared in rg-contoso-churn-shared"):
        _provision(loaded, clients)

    assert arm.stacks[DEV]["properties"]["provisioningState"] == "succeeded"
    role_writes = [r for r in arm.writes() if "/roleAssignments/" in r.path]
    new_team = "0c000000-0000-4000-8000-000000000009"
    assert not [r for r in role_writes if new_team in str(r.body)]


def test_ctrl_c_while_a_stack_deploys_says_it_continues_in_azure_and_how_to_see_it(
    tmp_path: Path, clients: AzureClients, arm: FakeArm
) -> None:
    path = copy_config("vnet", tmp_path)
    _provision(load_config(path), clients)
    loaded = _bigger_cluster(path)

    def ctrl_c(stack: str, event: str, detail: str) -> None:
        if stack == "dev" and event == "Succeeded":  # Ctrl-C while mlops polls the stack
            raise KeyboardInterrupt

    with pytest.raises(infra.ProvisionInterrupted) as stopped:
        _provision(loaded, clients, on_event=ctrl_c)

    assert isinstance(stopped.value.cause, KeyboardInterrupt)  # the CLI exits 130
    assert "deployment stack mlops-churn-dev continues in Azure" in stopped.value.message
    assert "rg-contoso-churn-dev" in stopped.value.message
    hint = stopped.value.hint
    assert "az stack group show -g rg-contoso-churn-dev -n mlops-churn-dev" in hint
    assert "no cancel operation" in hint
    assert "is not one" in hint  # `az stack group delete` is no cancel


@pytest.mark.parametrize(
    ("signal_number", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, EXIT_TERMINATED)]
)
def test_the_cli_stopped_while_a_stack_deploys_says_it_continues_and_exits_as_the_signal_asks(
    tmp_path: Path,
    clients: AzureClients,
    arm: FakeArm,
    monkeypatch: pytest.MonkeyPatch,
    signal_number: int,
    exit_code: int,
) -> None:
    """Ctrl-C (130) or SIGTERM from a cancelled pipeline (143) while mlops polls the stack:
    the signal is sent to this process from the SDK's polling thread, so it lands in the main
    thread wherever mlops is waiting, as a real one would."""
    path = copy_config("vnet", tmp_path)
    _provision(load_config(path), clients)
    _bigger_cluster(path)
    arm.requests.clear()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(azure_clients, "default_clients", lambda *_a, **_k: clients)

    def stop_while_polling(method: str, request_path: str) -> None:
        deploying = any(r.method == "PUT" and "/deploymentStacks/" in r.path for r in arm.requests)
        if deploying and method == "GET" and "/deploymentStacks/mlops-churn-dev" in request_path:
            arm.on_request = None
            os.kill(os.getpid(), signal_number)

    arm.on_request = stop_while_polling
    result = run_cli("provision", "--env", "dev", "--yes")

    assert result.exit_code == exit_code, result.stdout + result.stderr
    stderr = " ".join(result.stderr.split())
    assert "deployment stack mlops-churn-dev continues in Azure" in stderr
    assert "az stack group show -g rg-contoso-churn-dev -n mlops-churn-dev" in stderr
    assert "Traceback" not in result.stderr
