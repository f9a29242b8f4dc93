"""The gate is one rule on both backends: the same challengers, one after another, get the same
decisions and leave the same champion in a local MLflow registry (SQLite, as `mlops run` keeps
it) and in an Azure ML workspace (the fake, listed through the real SDK), and continuous
training reports on Azure exactly the decision the evaluate step set on its run."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import pytest

from diagnosis import champion as rule
from diagnosis.evaluate import Decision, Verdict, gate, label, run_tags
from diagnosis.register import set_champion, should_register, version_tags
from mlops.backends.azure.clients import AzureClients
from mlops.backends.local.registry import Registry
from mlops.backends.local.tracking import open_client
from mlops.config.loader import LoadedConfig
from mlops.services import azure_ml
from mlops.services.azure_ml.workspaces import workspace
from tests.aml.aml_fake import AmlFake

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NAME, METRIC = "diagnosis", "roc_auc"
Listed = list[tuple[str, dict[str, str]]]

# challenger's roc_auc, --force-register; then the decision, the version registered (None:
# nothing) and the champion afterwards, with threshold 0.95 and min_improvement 0.001
SEQUENCE = [
    (0.96, False, "promoted", "1", "1"),  # no champion yet
    (0.95, False, "not promoted", None, "1"),  # meets the bar, does not beat 0.96
    (0.97, False, "promoted", "2", "2"),
    (0.99, True, "promoted", "3", "3"),  # forced, but the gate promoted it: not forced in
    (0.975, False, "not promoted", None, "3"),
    (0.96, True, "not promoted", "4", "3"),  # forced in: registered, never champion
    (0.94, True, "not promoted", None, "3"),  # below the bar: not registered even forced
    (0.995, False, "promoted", "5", "5"),  # compared with 3 (0.99), not with forced 4 (0.96)
]


class Backend(Protocol):
    def listed(self) -> Listed: ...
    def register(self, tags: dict[str, str], forced: bool) -> str: ...
    def shown(self) -> str | None: ...


class Local:
    """The local registry: MLflow's client on the SQLite store `mlops run` uses."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.client = open_client(root)
        self.client.create_registered_model(NAME)

    def listed(self) -> Listed:
        return rule.versions(self.client, NAME)  # search_model_versions: what the step calls

    def register(self, tags: dict[str, str], forced: bool) -> str:
        version = str(self.client.create_model_version(NAME, "file:///model", tags=tags).version)
        if not forced:  # the alias, for `mlops models`: set as the register step sets it
            set_champion(self.client, NAME, version)
        return version

    def shown(self) -> str | None:
        """The champion `mlops models` shows."""
        return next((v.version for v in Registry(self.root).versions(NAME) if v.aliases), None)


class Azure:
    """The workspace: versions listed by the real SDK; a registration is what the register
    step's MLflow call leaves there (the fake runs no step code)."""

    def __init__(self, project: LoadedConfig, clients: AzureClients, aml: AmlFake) -> None:
        self.project, self.clients, self.aml = project, clients, aml
        self.ml = workspace(project, "dev").client(clients)

    def listed(self) -> Listed:
        return [(str(m.version), dict(m.tags or {})) for m in self.ml.models.list(name=NAME)]

    def register(self, tags: dict[str, str], forced: bool) -> str:
        version = str(max((int(v) for v, _ in self.listed()), default=0) + 1)
        self.aml.seed_model(NAME, version, **tags)
        return version

    def shown(self) -> str | None:
        """The champion `mlops models --env dev` shows."""
        [versions] = azure_ml.models(self.project, "dev", self.clients, NAME)
        return next((v.version for v in versions if v.aliases), None)


def report_of(challenger: float, decision: Decision) -> dict[str, Any]:
    """What of the evaluate step's report the register step reads."""
    return {
        "decision": label(decision),
        **asdict(decision),
        "primary_metric": METRIC,
        "challenger": {
            "metrics": {METRIC: challenger},
            "dataset": {"name": "breast-cancer", "version": "1"},
        },
    }


def one_run(
    backend: Backend, challenger: float, force: bool, bar: dict[str, Any]
) -> tuple[Verdict, str | None]:
    """Evaluate then register, on plain data. The champion's score is the one its version was
    registered with (its tag): the step would score it again on the same holdout."""
    listed = backend.listed()
    verdict = gate(challenger, listed, lambda v: float(dict(listed)[v][METRIC]), **bar)
    report = report_of(challenger, verdict.decision)
    if not should_register(report, force)[0]:
        return verdict, None
    forced = force and not verdict.decision.promoted
    return verdict, backend.register(version_tags(report, {}, forced), forced)


@pytest.fixture
def bar(project: LoadedConfig) -> dict[str, Any]:
    """The project's gate settings, as `mlops run` passes them to either backend."""
    model = project.config.model
    assert (model.threshold, model.min_improvement) == (0.95, 0.001)
    return {
        "metric": model.primary_metric,
        "direction": model.direction,
        "threshold": model.threshold,
        "min_improvement": model.min_improvement,
    }


def test_the_same_challengers_get_the_same_decisions_and_champion_on_both_backends(
    tmp_path: Path, project: LoadedConfig, clients: AzureClients, aml: AmlFake, bar
) -> None:
    local, azure = Local(tmp_path / "state"), Azure(project, clients, aml)

    for challenger, force, decision, registered, champion in SEQUENCE:
        (here, here_version), (there, there_version) = (
            one_run(backend, challenger, force, bar) for backend in (local, azure)
        )
        assert here == there, challenger  # decision, reason and the champion compared with
        assert (label(here.decision), here_version) == (decision, registered), challenger
        assert there_version == here_version
        assert rule.choose(local.listed()) == rule.choose(azure.listed()) == champion
        assert local.shown() == azure.shown() == champion

        # continuous training on Azure reports what the evaluate step set on its run
        aml.step_ran("evaluate", **run_tags(there.decision))
        aml.step_ran("register", **({"registered_version": there_version} if there_version else {}))
        result = azure_ml.run(project, "dev", None, {}, clients, poll_s=0)
        assert result.gate == run_tags(here.decision)
        assert result.model == (f"{NAME}:{registered}" if registered else None)


def test_the_local_gate_does_not_follow_the_alias(tmp_path: Path, bar) -> None:
    """The alias is for display: left on a forced version (a registration killed between its
    writes), the gate still compares with the newest promoted version."""
    local = Local(tmp_path / "state")
    local.register({"gate_decision": "promoted", "forced": "false", METRIC: "0.960000"}, False)
    forced = {"gate_decision": "not promoted", "forced": "true", METRIC: "0.951000"}
    set_champion(local.client, NAME, local.register(forced, True))

    verdict, _ = one_run(local, 0.958, False, bar)

    assert verdict.champion == "1" and not verdict.decision.promoted
    assert local.shown() == "1"
