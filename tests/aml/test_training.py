"""`mlops run --env dev`, `mlops models --env`: the real MLClient against a fake of Azure ML."""

from __future__ import annotations

import pytest

from diagnosis.evaluate import Decision, run_tags
from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig
from mlops.errors import BackendError
from mlops.services import azure_ml
from tests.aml.aml_fake import AmlFake, Fault, JobScenario
from tests.aml.signed_in import run_cli_signed_in

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _run(project: LoadedConfig, clients: AzureClients, **kwargs) -> azure_ml.AzureRun:
    kwargs.setdefault("poll_s", 0)
    return azure_ml.run(project, "dev", None, {}, clients, **kwargs)


def test_continuous_training_submits_the_pipeline_with_lineage_and_reports_the_gate(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUILD_BUILDID", "4711")
    monkeypatch.setenv("SYSTEM_COLLECTIONURI", "https://dev.azure.com/contoso/")
    monkeypatch.setenv("SYSTEM_TEAMPROJECT", "ml")
    monkeypatch.setenv("BUILD_SOURCEVERSION", "0123abcd")
    events: list[tuple[str, str]] = []
    beats = Decision(True, True, "roc_auc 0.9910 beats champion 0.9870 by +0.0040")
    aml.step_ran("evaluate", **run_tags(beats))

    result = _run(project, clients, on_event=lambda *e: events.append(e))

    assert result.ok and result.job.status == "Completed"
    assert result.gate == {"gate_decision": "promoted", "gate_reason": beats.reason}
    [job_put] = [w for w in aml.writes() if "/jobs/" in w.path]
    body = job_put.body["properties"]
    assert body["experimentName"] == "diagnosis"
    assert body["tags"]["build_id"] == "4711"
    assert (
        body["tags"]["build_uri"] == "https://dev.azure.com/contoso/ml/_build/results?buildId=4711"
    )
    assert body["tags"]["git_commit"] == "0123abcd"
    assert (body["tags"]["dataset_name"], body["tags"]["dataset_version"]) == ("breast-cancer", "1")
    assert body["inputs"]["model_name"]["value"] == "diagnosis"
    assert body["inputs"]["threshold"]["value"] == "0.95"  # from mlops.yaml, not the YAML's 0.0
    assert events[0][0] == "submitted" and result.job.url in events[0][1]
    assert ("Completed", "evaluate") in events


def test_continuous_training_gives_the_gate_the_workspace_champion_and_the_guardrails(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    """The inputs that decide whether Azure ML may reuse the evaluate and register steps:
    the champion by the rule the local run applies (a forced version never is), and the gate
    from mlops.yaml, as `mlops run` gives them locally."""
    aml.seed_model("diagnosis", "1", gate_decision="promoted", forced="false")
    aml.seed_model("diagnosis", "2", gate_decision="promoted", forced="false")
    aml.seed_model("diagnosis", "3", gate_decision="not promoted", forced="true")

    _run(project, clients)

    [job_put] = [w for w in aml.writes() if "/jobs/" in w.path]
    inputs = job_put.body["properties"]["inputs"]
    assert inputs["champion_version"]["value"] == "2"
    assert inputs["guardrails"]["value"] == "recall:min:0.95"


def test_no_wait_returns_once_submitted_with_the_job_url(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    result = _run(project, clients, wait=False)

    assert not result.waited and result.job.url.startswith("https://")
    assert not [r for r in aml.requests if r.method == "GET" and "/jobs/" in r.path]


def test_a_failed_step_fails_the_run_naming_the_step_and_the_job_url(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.scenario = JobScenario(fail_step="train")

    with pytest.raises(BackendError) as failed:
        _run(project, clients)

    assert "ended Failed in train" in failed.value.message
    assert "https://" in failed.value.message


def test_a_job_that_outlives_the_timeout_is_reported_with_its_url(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.scenario = JobScenario(never_finishes=True)

    with pytest.raises(BackendError) as late:
        _run(project, clients, timeout_s=0)

    assert " is still " in late.value.message and "after 0 s" in late.value.message
    assert "goes on in Azure ML: https://" in late.value.message


def test_throttling_and_server_errors_are_retried(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.faults += [
        Fault("PUT", r"/jobs/[^/]+$", 503),
        Fault("GET", r"/jobs/[^/]+$", 429, times=2),
    ]

    result = _run(project, clients)

    assert result.ok
    assert [f.times for f in aml.faults] == [0, 0]


def test_models_in_a_workspace_mark_the_newest_promoted_version_as_champion(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.seed_model("diagnosis", "1", gate_decision="promoted", build_id="7")
    aml.seed_model("diagnosis", "2", gate_decision="promoted", forced="false", build_id="9")
    aml.seed_model("diagnosis", "3", gate_decision="not promoted", forced="true")

    [versions] = azure_ml.models(project, "dev", clients, "diagnosis")

    assert [(v.version, v.aliases) for v in versions] == [
        ("3", []),
        ("2", ["champion"]),
        ("1", []),
    ]
    assert azure_ml.show(project, "dev", clients, "diagnosis").version == "2"
    assert azure_ml.show(project, "dev", clients, "diagnosis:1").tags["build_id"] == "7"


def test_the_run_reports_the_version_the_register_step_registered(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.scenario = JobScenario(step_tags={"register": {"registered_version": "5"}})

    result = _run(project, clients)

    assert result.to_dict()["model"] == "diagnosis:5"  # what ct.yml promotes


def test_a_run_the_gate_did_not_promote_reports_no_model(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.step_ran("evaluate", **run_tags(Decision(False, True, "no improvement")))

    result = _run(project, clients).to_dict()

    assert result["gate_decision"] == "not promoted" and result["model"] is None
    assert result["gate_reason"] == "no improvement"


def test_the_gate_reported_is_only_what_the_evaluate_step_set_on_its_run(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    """Nothing invents a decision: an evaluate step that set no tags reports no gate."""
    result = _run(project, clients)

    assert result.ok and result.gate == {}
    assert "gate_decision" not in result.to_dict()


def test_set_of_a_data_input_to_an_asset_is_submitted_as_its_path(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    aml.step_ran("evaluate", **run_tags(Decision(True, True, "first model")))
    azure_ml.run(project, "dev", None, {"data": "azureml:breast-cancer:2"}, clients, poll_s=0)
    [job_put] = [w for w in aml.writes() if "/jobs/" in w.path]
    data = job_put.body["properties"]["inputs"]["data"]
    assert data["uri"].endswith("breast-cancer:2") or "breast-cancer/versions/2" in data["uri"]


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"data": "./data/breast_cancer.csv"}, "not a path on this machine"),
        ({"regularisation": "0.1"}, "has no input 'regularisation'"),
    ],
)
def test_a_set_azure_ml_could_not_honour_is_refused_before_any_call(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake, overrides: dict, why: str
) -> None:
    from mlops.errors import BadInputError

    with pytest.raises(BadInputError, match=why):
        azure_ml.run(project, "dev", None, overrides, clients, poll_s=0)
    assert aml.writes() == []


def test_a_failed_poll_is_tried_again_and_the_run_completes(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    from tests.aml.aml_fake import AmlFault

    aml.step_ran("evaluate", **run_tags(Decision(True, True, "first model")))
    submitted = _run(project, clients, wait=False)
    # a dropped connection on every try azure-core makes (1 + 3 retries): one lost poll
    aml.faults.append(AmlFault.network("GET", r"/jobs/[^/]+$", times=4))
    events: list[tuple[str, str]] = []

    result = azure_ml.run(
        project, "dev", None, {}, clients, poll_s=0, follow=submitted.job.name,
        on_event=lambda *e: events.append(e),
    )  # fmt: skip

    assert result.ok and result.job.name == submitted.job.name
    assert any(e == "poll failed" for e, _ in events)
    assert len([w for w in aml.writes() if "/jobs/" in w.path]) == 1  # follow submits nothing


def test_polls_failing_in_a_row_end_the_wait_with_the_command_that_resumes_it(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    from mlops.services.azure_ml.training import MAX_FAILED_POLLS
    from tests.aml.aml_fake import AmlFault

    submitted = _run(project, clients, wait=False)
    aml.faults.append(AmlFault.network("GET", r"/jobs/[^/]+$", times=4 * MAX_FAILED_POLLS))

    with pytest.raises(BackendError) as lost:
        azure_ml.run(project, "dev", None, {}, clients, poll_s=0, follow=submitted.job.name)

    assert f"after {MAX_FAILED_POLLS} failed polls" in lost.value.message
    assert f"mlops run --env dev --follow {submitted.job.name}" in (lost.value.hint or "")


def test_the_cli_resumes_following_a_job_to_its_end(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    aml.step_ran("evaluate", **run_tags(Decision(True, True, "first model")))
    name = _run(project, clients, wait=False).job.name
    with pytest.raises(BackendError) as late:  # the wait ran out while the job was queued
        _run(project, clients, follow=name, timeout_s=0)
    assert f"mlops run --env dev --follow {name}" in (late.value.hint or "")
    monkeypatch.chdir(project.root)
    writes = len(aml.writes())

    result = run_cli_signed_in(aml, project.root, "run", "--env", "dev", "--follow", name)

    assert result.exit_code == 0, result.stderr
    assert f"{name} completed" in result.stderr
    assert "gate: promoted: first model" in result.stderr
    assert len(aml.writes()) == writes  # following submits nothing
    again = run_cli_signed_in(aml, project.root, "run", "-e", "dev", "--follow", name, "-o", "json")
    assert again.exit_code == 0, again.stderr
    assert (again.json()["job"], again.json()["status"]) == (name, "Completed")


def test_following_a_job_the_workspace_does_not_have_exits_2_naming_it(
    project: LoadedConfig, aml: AmlFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)

    result = run_cli_signed_in(aml, project.root, "run", "--env", "dev", "--follow", "nosuch_42")

    assert result.exit_code == 2 and result.exception is None
    assert "no job nosuch_42" in result.stderr
    assert "nothing to follow" in result.stderr
    assert aml.writes() == []


def test_ct_records_why_it_trained_as_the_job_trigger_tag(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_TRIGGER", "data")
    azure_ml.run(project, "dev", None, {}, clients, wait=False)
    [job] = [w for w in aml.writes() if "/jobs/" in w.path]
    assert job.body["properties"]["tags"]["trigger"] == "data"


def test_a_trigger_outside_the_four_is_refused_before_anything_is_submitted(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops.errors import BadInputError

    monkeypatch.setenv("MLOPS_TRIGGER", "nightly")
    with pytest.raises(BadInputError, match="MLOPS_TRIGGER=nightly"):
        azure_ml.run(project, "dev", None, {}, clients, wait=False)
    assert [w for w in aml.writes() if "/jobs/" in w.path] == []
