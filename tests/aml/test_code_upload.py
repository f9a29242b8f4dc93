"""`mlops run`'s code snapshot: the SDK's real upload path, into Azurite as the workspace's blob
store, and registered once per workspace (the fake hands out SAS URLs into Azurite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig
from mlops.services import azure_ml
from tests.aml.aml_fake import ARM, AmlFake, Recorded, offline
from tests.aml.azurite import BlobStore
from tests.aml.conftest import make_fake, workspace_id

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def aml(blob_store: BlobStore) -> Iterator[AmlFake]:
    with offline(make_fake(blob_store)) as fake:
        yield fake


def _submit(project: LoadedConfig, clients: AzureClients, env: str = "dev") -> None:
    azure_ml.run(project, env, None, {}, clients, poll_s=0, wait=False)


def _code_versions(aml: AmlFake, workspace: str) -> list[Recorded]:
    """The code versions registered (PUT) in `workspace` (its name)."""
    return [
        w for w in aml.writes() if w.method == "PUT" and f"/workspaces/{workspace}/codes/" in w.path
    ]


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_training_run_uploads_the_code_snapshot_to_the_workspace_blob_store(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake, blob_store: BlobStore
) -> None:
    _submit(project, clients)

    [registered] = _code_versions(aml, "mlw-mlops-diagnosis-dev")
    code_uri = registered.body["properties"]["codeUri"]
    uploaded = blob_store.read(code_uri)
    assert "diagnosis/train.py" in uploaded and "diagnosis/evaluate.py" in uploaded
    assert uploaded == _files(project.root / "src")  # the components' `code: ../../src`, as is
    assert any(w.path.endswith("/startPendingUpload") for w in aml.writes())
    # every component of the pipeline runs the registered snapshot
    components = [w for w in aml.writes() if "/components/" in w.path]
    assert len(components) == 4
    code_id = f"azureml:{registered.path}"
    assert all(c.body["properties"]["componentSpec"]["code"] == code_id for c in components)


def test_a_second_identical_submission_uploads_nothing(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    _submit(project, clients)
    requests, blob_requests = len(aml.requests), len(aml.blob_requests)

    _submit(project, clients)

    again = aml.requests[requests:]
    assert aml.blob_requests[blob_requests:] == []
    assert not [r for r in again if r.method in ("PUT", "POST") and "/codes/" in r.path]
    assert [r for r in again if r.method == "GET" and "/codes/" in r.path]  # looked up, found
    assert len([r for r in again if "/jobs/" in r.path]) == 1


def test_a_snapshot_registered_in_dev_is_uploaded_again_to_the_test_workspace(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake, blob_store: BlobStore
) -> None:
    _submit(project, clients, "dev")
    _submit(project, clients, "test")

    [dev] = _code_versions(aml, "mlw-mlops-diagnosis-dev")
    [test] = _code_versions(aml, "mlw-mlops-diagnosis-test")
    dev_uri, test_uri = dev.body["properties"]["codeUri"], test.body["properties"]["codeUri"]
    assert dev_uri != test_uri
    assert blob_store.read(test_uri) == blob_store.read(dev_uri) == _files(project.root / "src")


def test_a_code_version_naming_blobs_never_uploaded_is_refused(
    aml: AmlFake, blob_store: BlobStore
) -> None:
    """As Azure ML: a code version is registered only over uploaded blobs (the fake looks in
    Azurite), so a test cannot pass with an upload that silently wrote nothing."""
    from azure.core.rest import HttpRequest

    version = f"{ARM}{workspace_id('dev')}/codes/orphan/versions/1?api-version=2023-04-01"
    body = {"properties": {"codeUri": f"{blob_store.url}/never-uploaded/src"}}

    answer = aml.send(HttpRequest("PUT", version, json=body))

    assert answer.status_code == 400 and "no blobs found" in answer.text()
    assert aml.resources.get(f"{workspace_id('dev')}/codes/orphan/versions/1".lower()) is None
