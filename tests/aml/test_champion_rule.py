"""One champion rule, both backends: the same registrations make the same version champion in
the local MLflow registry (where the register step moves the alias) and in an Azure ML
workspace (whose registry has no aliases)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

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
