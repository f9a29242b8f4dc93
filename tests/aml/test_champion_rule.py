"""One champion rule, both backends: the same registrations make the same version champion in
the local MLflow registry (where the register step moves the alias) and in an Azure ML
workspace (whose registry has no aliases)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pytest

from diagnosis import champion as step_rule
from diagnosis.prep import split
from diagnosis.schema import read_csv
from diagnosis.train import fit
from mlops.backends.local.registry import Registry
from mlops.gate import champion
from mlops.services import azure_ml
from tests.aml.conftest import REPO
from tests.model.test_registration import report, run_register

PROMOTED, FORCED = "promoted", "forced"
SEQUENCES = {
    "forced after a promotion": ([PROMOTED, FORCED], "1"),
    "promotion after a forced one": ([PROMOTED, FORCED, PROMOTED, FORCED], "3"),
    "only forced": ([FORCED, FORCED], None),
}


@pytest.fixture(scope="module")
def model_and_holdout(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("model")
    train, holdout = split(read_csv(REPO / "data" / "breast_cancer.csv"))
    mlflow.sklearn.save_model(fit(train, regularization=0.01), root / "model")
    (root / "prepared").mkdir()
    holdout.to_csv(root / "prepared" / "holdout.csv", index=False)
    return root / "model", root / "prepared"


@pytest.fixture(autouse=True)
def _forget_the_store():
    yield
    mlflow.set_tracking_uri(None)  # the next test must not write into this store
    mlflow.set_registry_uri(None)


def register_locally(tmp: Path, kinds: list[str], model: Path, prepared: Path, monkeypatch):
    """Each registration through the real register step, into a local store under `tmp`."""
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.setenv(variable, uri)
    monkeypatch.setenv("MLOPS_REGISTRY_LOCK", str(tmp / "registry.lock"))
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    current = None
    for kind in kinds:
        gate = report(0.99, promoted=kind == PROMOTED, champion_version=current)
        outcome = run_register(tmp, model, gate, prepared, force=kind == FORCED)
        assert outcome["registered"]
        if kind == PROMOTED:
            current = outcome["version"]
    return Registry(tmp)


@pytest.mark.parametrize("sequence", SEQUENCES)
def test_the_same_registrations_make_the_same_champion_locally_and_on_azure(
    sequence, tmp_path, monkeypatch, model_and_holdout, project, aml, clients
):
    kinds, expected = SEQUENCES[sequence]
    local = register_locally(tmp_path, kinds, *model_and_holdout, monkeypatch)
    local_versions = local.versions("diagnosis")
    for version in reversed(local_versions):  # the same tags, in the workspace
        aml.seed_model("diagnosis", version.version, **version.tags)
    [azure_versions] = azure_ml.models(project, "dev", clients, "diagnosis")

    def holder(versions) -> str | None:
        return next((v.version for v in versions if "champion" in v.aliases), None)

    assert holder(local_versions) == holder(azure_versions) == expected
    assert getattr(champion(local_versions), "version", None) == expected
    if expected is not None:  # the alias MLflow holds agrees with the rule
        alias = mlflow.MlflowClient().get_model_version_by_alias("diagnosis", "champion")
        assert str(alias.version) == expected


@dataclass
class Listed:
    """A version as `mlops.gate.champion` takes it (local registry and Azure ML records)."""

    version: str
    tags: dict[str, str] = field(default_factory=dict)


P, N = {"gate_decision": "promoted"}, {"gate_decision": "not promoted"}
P_FORCED = {"gate_decision": "promoted", "forced": "true"}  # register never writes it: no champion
N_FORCED = {"gate_decision": "not promoted", "forced": "true"}
P_NOT_FORCED = {"gate_decision": "promoted", "forced": "false"}
RULE_TABLE = {
    "no versions": ([], None),
    "one promoted": ([("1", P)], "1"),
    "newest promoted wins": ([("1", P), ("2", P_NOT_FORCED)], "2"),
    "not promoted after a promotion": ([("1", P), ("2", N)], "1"),
    "forced after a promotion": ([("1", P), ("2", N_FORCED)], "1"),
    "promoted yet forced is never champion": ([("1", P), ("2", P_FORCED)], "1"),
    "only forced": ([("1", N_FORCED), ("2", N_FORCED)], None),
    "no gate tags": ([("1", {}), ("2", {"forced": "false"})], None),
    "gaps in the numbers": ([("3", P), ("7", N), ("12", P), ("40", N_FORCED)], "12"),
    "10 is newer than 9": ([("9", P), ("10", P)], "10"),
    "listed newest first": ([("10", P), ("9", P), ("2", P)], "10"),
    "listed in no order": ([("2", P), ("11", N), ("10", P), ("9", P)], "10"),
    "decision spelled otherwise": ([("1", P), ("2", {"gate_decision": "Promoted"})], "1"),
}


@pytest.mark.parametrize("case", RULE_TABLE)
def test_mlops_and_the_step_code_choose_the_same_champion(case):
    """`mlops.gate.champion` (the CLI, both backends) and `diagnosis.champion.choose` (the
    evaluate and register steps, which cannot import mlops) are one rule."""
    listed, expected = RULE_TABLE[case]
    cli = champion([Listed(version, dict(tags)) for version, tags in listed])

    assert step_rule.choose(listed) == expected
    assert getattr(cli, "version", None) == expected
