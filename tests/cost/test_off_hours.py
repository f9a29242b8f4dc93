"""Non-production endpoints asleep off hours: deployments removed (a managed deployment cannot
scale to zero) and the same model deployed again in the morning, through the real MLClient
against the Azure ML fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from mlops.errors import BadInputError
from mlops.services import azure_ml, off_hours
from tests.aml.aml_fake import AmlFake
from tests.aml.conftest import endpoint_name, make_project, workspace_id

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
OFF_HOURS = "\ncost:\n  off_hours:\n    environments: [test]\n"


@pytest.fixture
def serving(tmp_path: Path, aml: AmlFake, clients: AzureClients) -> LoadedConfig:
    """test serves diagnosis:3 (promoted, copied into the registry, deployed)."""
    project = make_project(tmp_path)
    path = project.path
    path.write_text(path.read_text(encoding="utf-8") + OFF_HOURS, encoding="utf-8")
    loaded = load_config(path)
    aml.seed_model("diagnosis", "3", gate_decision="promoted", forced="false")
    azure_ml.promote(loaded, "diagnosis:3", "test", clients)
    azure_ml.deploy(loaded, "test", "diagnosis:3", clients, sleep=lambda _: None)
    return loaded


def _endpoint(aml: AmlFake) -> dict:
    return aml.resources[f"{workspace_id('test')}/onlineEndpoints/{endpoint_name('test')}".lower()]


def _deployments(aml: AmlFake) -> list[str]:
    prefix = f"{workspace_id('test')}/onlineEndpoints/{endpoint_name('test')}/deployments/".lower()
    return [k for k in aml.resources if k.startswith(prefix)]


def test_sleep_removes_the_deployments_and_keeps_the_endpoint_with_what_it_served(
    serving: LoadedConfig, aml: AmlFake, clients: AzureClients
) -> None:
    assert len(_deployments(aml)) == 1

    slept = off_hours.sleep(serving, "test", clients)

    assert slept.model == "diagnosis:3" and len(slept.removed) == 1
    assert _deployments(aml) == []
    endpoint = _endpoint(aml)  # still there: same name, scoring URI and role assignments
    assert endpoint["tags"][off_hours.ASLEEP_TAG] == "diagnosis:3"
    assert not any((endpoint["properties"].get("traffic") or {}).values())
    assert aml.contract_errors == []


def test_sleeping_twice_writes_nothing_the_second_time(
    serving: LoadedConfig, aml: AmlFake, clients: AzureClients
) -> None:
    off_hours.sleep(serving, "test", clients)
    writes = len(aml.writes())

    again = off_hours.sleep(serving, "test", clients)

    assert again.model is None and again.removed == []
    assert len(aml.writes()) == writes


def test_wake_deploys_the_same_model_again_smoke_tested_and_clears_the_tag(
    serving: LoadedConfig, aml: AmlFake, clients: AzureClients
) -> None:
    off_hours.sleep(serving, "test", clients)

    woke = off_hours.wake(serving, "test", clients)

    assert woke == "diagnosis:3"
    [deployment] = _deployments(aml)
    assert aml.resources[deployment]["properties"]["model"].endswith("/models/diagnosis/versions/3")
    endpoint = _endpoint(aml)
    assert off_hours.ASLEEP_TAG not in (endpoint.get("tags") or {})
    assert sum(endpoint["properties"]["traffic"].values()) == 100
    assert any(r.path.endswith("/score") for r in aml.requests)  # smoke-tested
    assert off_hours.wake(serving, "test", clients) is None  # awake stays awake


def test_production_and_unlisted_environments_never_sleep(
    serving: LoadedConfig, aml: AmlFake, clients: AzureClients, tmp_path: Path
) -> None:
    with pytest.raises(BadInputError, match="does not name environment 'dev'"):
        off_hours.sleep(serving, "dev", clients)
    path = serving.path
    path.write_text(path.read_text(encoding="utf-8").replace("[test]", "[test, prod]"))
    with pytest.raises(BadInputError, match="production"):
        off_hours.sleep(load_config(path), "prod", clients)
    assert len(_deployments(aml)) == 1


@pytest.mark.parametrize(
    ("schedule", "action", "expected"),
    [
        ("Endpoints asleep after working hours", "auto", "sleep"),
        ("Endpoints awake for working hours", "auto", "wake"),
        ("", "wake", "wake"),  # a run queued by hand, with its parameter
    ],
)
def test_the_rendered_schedule_picks_sleep_or_wake(
    serving: LoadedConfig, tmp_path: Path, schedule: str, action: str, expected: str
) -> None:
    """The rendered step run by bash, as the agent runs it: Azure DevOps expands the
    template parameter and the $(...) macro first; `mlops` records how it was called."""
    import subprocess

    from mlops.render.pipelines import endpoints

    [job] = endpoints(serving.config)["jobs"]
    script = job["steps"][1]["parameters"]["script"]
    script = script.replace("${{ parameters.action }}", action)
    script = script.replace("$(Build.CronSchedule.DisplayName)", schedule)
    calls = tmp_path / "calls"
    prelude = f'mlops() {{ echo "$*" >> {str(calls)!r}; }}\n'
    done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + prelude + script], check=False)

    assert done.returncode == 0
    assert calls.read_text().splitlines() == [f"cost {expected} --env test"]


def test_cost_estimate_on_the_command_line_says_it_is_an_estimate(serving: LoadedConfig) -> None:
    from tests.conftest import run_cli

    result = run_cli("-c", str(serving.path), "cost", "estimate", "-o", "json")

    assert result.exit_code == 0, result.stderr
    report = result.json()
    assert report["estimate"] is True and "rough estimate" in report["note"]
    assert {d["env"] for d in report["drivers"]} == {"dev", "test", "prod"}
