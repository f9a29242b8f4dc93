"""A model project wired to Azure (the repository's own, with a subscription) and a fake of
Azure ML behind the real SDK."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig, load_config
from tests.aml import azurite
from tests.aml.aml_fake import AmlFake, FakeCredential, offline, system_registry_id
from tests.aml.azurite import BlobStore

REPO = Path(__file__).parents[2]
SUB = "22222222-2222-2222-2222-222222222222"
WORKSPACES = (
    "/subscriptions/{sub}/resourceGroups/rg-mlops-diagnosis-{env}/providers"
    "/Microsoft.MachineLearningServices/workspaces/mlw-mlops-diagnosis-{env}"
)


def workspace_id(env: str) -> str:
    return WORKSPACES.format(sub=SUB, env=env)


def endpoint_name(env: str) -> str:
    """The online endpoint of `env` as mlops names it: NAME-ENV-HASH, unique in its region."""
    from mlops import naming

    return naming.environment_names(
        prefix="mlops",
        project="diagnosis",
        env=env,
        resource_group=f"rg-mlops-diagnosis-{env}",
        subscription_id=SUB,
        endpoint="diagnosis-online",
    ).online_endpoint


def make_project(folder: Path, *, kubernetes: bool = False) -> LoadedConfig:
    for part in ("pipelines", "src"):
        shutil.copytree(REPO / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    text = (REPO / "mlops.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "  location: westeurope", f"  subscription_id: {SUB}\n  location: westeurope"
    )
    if kubernetes:
        text = (
            text.replace("  target: managed", "  target: kubernetes")
            .replace("instance_type: Standard_DS3_v2", "instance_type: defaultinstancetype")
            .replace("auth_mode: aad_token", "auth_mode: aml_token")
        )
    (folder / "mlops.yaml").write_text(text, encoding="utf-8")
    return load_config(folder / "mlops.yaml")


@pytest.fixture
def project(tmp_path: Path) -> LoadedConfig:
    return make_project(tmp_path)


def make_fake(blob_store: BlobStore | None = None) -> AmlFake:
    """The fake of the project's Azure ML: dev's workspace, the shared registry, curated
    environments; with `blob_store`, code snapshots are uploaded there."""
    fake = AmlFake(
        SUB,
        "rg-mlops-diagnosis-dev",
        "mlw-mlops-diagnosis-dev",
        registry="mlr-mlops-diagnosis",
        registry_resource_group="rg-mlops-diagnosis-shared",
        blob_store=blob_store,
    )
    # two published builds of the curated environment the deployments name by @latest
    for version in ("26", "27"):
        fake.seed_environment(system_registry_id("azureml"), "sklearn-1.5", version)
        for env in ("dev", "test", "prod"):
            fake.seed_environment(workspace_id(env), "AzureML-sklearn-1.5", version)
    return fake


@pytest.fixture
def aml() -> Iterator[AmlFake]:
    with offline(make_fake()) as fake:
        yield fake


@pytest.fixture(scope="session")
def blob_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlobStore]:
    """Azurite's blob service, started on first use and stopped at the end of the session.
    Missing Node or Azurite fails the tests that need it (CI installs both), never skips."""
    missing = None
    try:
        azurite.executable()
    except azurite.AzuriteMissing as error:
        missing = str(error)
    if missing:
        pytest.fail(missing, pytrace=False)
    with azurite.running(tmp_path_factory.mktemp("azurite")) as store:
        yield store


@pytest.fixture
def clients(aml: AmlFake) -> AzureClients:
    return AzureClients(
        FakeCredential(), aml, {"polling_interval": 0, "retry_backoff_factor": 0.01}
    )
