"""Promotion order holds where models are deployed: after the first environment a deploy takes
an exact version, and prod only the version test serves with all its traffic. Each
environment has its own endpoint, unique in its region. The real MLClient against the fake."""

from __future__ import annotations

import pytest

from mlops.backends.azure.clients import AzureClients
from mlops.config.loader import LoadedConfig
from mlops.errors import BadInputError
from mlops.services import azure_ml
from tests.aml.aml_fake import AmlFake
from tests.aml.conftest import endpoint_name, workspace_id

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def promoted(project: LoadedConfig, clients: AzureClients, aml: AmlFake) -> LoadedConfig:
    """diagnosis:3 and :4, both promoted by the gate in dev; :3 copied into the registry."""
    aml.seed_model("diagnosis", "3", gate_decision="promoted", forced="false")
    aml.seed_model("diagnosis", "4", gate_decision="promoted", forced="false")
    azure_ml.promote(project, "diagnosis:3", "test", clients)
    return project


def test_a_deploy_after_the_first_environment_needs_an_exact_version(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    for reference in (None, "diagnosis", "diagnosis@champion"):
        with pytest.raises(BadInputError, match="needs an exact version: --model NAME:VERSION"):
            azure_ml.deploy(promoted, "test", reference, clients)
    assert not [w for w in aml.writes() if "/onlineEndpoints/" in w.path]


def test_prod_refuses_a_version_test_never_served_before_any_write(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    with pytest.raises(BadInputError, match=r"diagnosis:3 is not what test serves"):
        azure_ml.deploy(promoted, "prod", "diagnosis:3", clients)
    azure_ml.deploy(promoted, "test", "diagnosis:3", clients)
    azure_ml.promote(promoted, "diagnosis:4", "test", clients)  # in the registry, not served
    writes = len(aml.writes())

    with pytest.raises(BadInputError, match=r"diagnosis:4 is not what test serves"):
        azure_ml.deploy(promoted, "prod", "diagnosis:4", clients)
    assert len(aml.writes()) == writes


def test_train_promote_deploy_test_then_prod_end_to_end_each_on_its_own_endpoint(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    tested = azure_ml.deploy(promoted, "test", "diagnosis:3", clients)
    azure_ml.promote(promoted, "diagnosis:3", "prod", clients)
    released = azure_ml.deploy(promoted, "prod", "diagnosis:3", clients)

    assert (tested.endpoint, released.endpoint) == (endpoint_name("test"), endpoint_name("prod"))
    assert tested.endpoint != released.endpoint  # one region may hold both
    for env in ("test", "prod"):
        path = f"{workspace_id(env)}/onlineEndpoints/{endpoint_name(env)}".lower()
        assert aml.resources[path]["properties"]["traffic"] == {"blue": 100}


def test_an_endpoint_name_already_taken_in_the_region_is_refused_by_azure(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    """What the fake enforces, as Azure ML does: one endpoint name per region, whichever
    workspace holds it. A config that pinned one name for every environment would fail here."""
    from mlops.backends.azure import aml as calls
    from mlops.errors import BackendError
    from mlops.render.endpoint import endpoint_spec

    azure_ml.deploy(promoted, "test", "diagnosis:3", clients)
    same_name = endpoint_spec(promoted.config, "test")  # test's name, created in prod
    prod = azure_ml.workspace(promoted, "prod").client(clients)
    with pytest.raises(BackendError, match="already in use in region"):
        calls.create_endpoint(prod, same_name, promoted.root)


def test_promotion_refuses_a_registry_version_that_is_another_model(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    """Name and version are not identity: what test and prod deploy must be the bits the
    gate promoted, so a different model already under that name and version is refused."""
    aml.seed_model("diagnosis", "5", gate_decision="promoted", forced="false", git_commit="aaa")
    aml.seed_registry_model("diagnosis", "5", git_commit="bbb")

    with pytest.raises(BadInputError, match="already holds a different diagnosis:5") as refused:
        azure_ml.promote(project, "diagnosis:5", "test", clients)
    assert "git_commit: aaa here, bbb there" in refused.value.message


def test_a_second_promotion_racing_the_first_is_a_no_op(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    """Two promotions at once both find the registry empty; the copy of the second fails as
    the version now exists. It is then the same bits, so the second promotion succeeds."""
    from tests.aml.aml_fake import AmlFault

    aml.seed_model("diagnosis", "6", gate_decision="promoted", forced="false", git_commit="ccc")
    aml.faults.append(AmlFault.processed_then("POST", r"/import$", status=409))

    promoted = azure_ml.promote(project, "diagnosis:6", "test", clients)

    assert not promoted.copied
    assert aml.registry_model("diagnosis", "6")["properties"]["tags"]["git_commit"] == "ccc"


def test_the_dry_run_refuses_what_deploy_refuses_and_shows_prod_the_image_test_runs(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    with pytest.raises(BadInputError, match="needs an exact version"):
        azure_ml.dry_run(promoted, "prod", None, clients)
    with pytest.raises(BadInputError, match=r"diagnosis:3 is not what test serves"):
        azure_ml.dry_run(promoted, "prod", "diagnosis:3", clients)
    tested = azure_ml.deploy(promoted, "test", "diagnosis:3", clients)
    azure_ml.promote(promoted, "diagnosis:3", "prod", clients)
    writes = len(aml.writes())

    release = azure_ml.dry_run(promoted, "prod", "diagnosis:3", clients)

    assert len(aml.writes()) == writes
    deployment = release.deployment_spec
    assert deployment["model"].endswith("/models/diagnosis/versions/3")
    assert deployment["endpoint_name"] == endpoint_name("prod")
    assert (deployment["name"], release.creates_endpoint) == ("blue", True)
    tested_at = f"/{tested.endpoint}/deployments/blue"
    [test_put] = [w for w in aml.writes() if w.path.endswith(tested_at)]
    assert deployment["environment"] == test_put.body["properties"]["environmentId"]


@pytest.mark.parametrize(("storage_of", "copies"), [("dev", True), ("test", False)])
def test_promotion_copies_only_from_storage_whose_rendered_network_admits_the_registry(
    project: LoadedConfig, clients: AzureClients, aml: AmlFake, storage_of: str, copies: bool
) -> None:
    """The network `mlops render` writes must let promotion work, not just pass checkov: dev's
    storage (a resource instance rule for the registry) lets the copy through; storage as
    private as test's (public access disabled) would stop it, as Microsoft documents."""
    import json

    from mlops.errors import BackendError
    from mlops.render.files import render

    template = next(
        json.loads(f.text)
        for f in render(project.config)
        if f.path == f"infra/{storage_of}/main.json"
    )
    (storage,) = [
        r for r in template["resources"] if r["type"] == "Microsoft.Storage/storageAccounts"
    ]
    aml.storage_network(workspace_id("dev"), storage["properties"])
    aml.seed_model("diagnosis", "7", gate_decision="promoted", forced="false")

    if copies:
        assert azure_ml.promote(project, "diagnosis:7", "test", clients).copied
    else:
        with pytest.raises(BackendError, match="public network access disabled"):
            azure_ml.promote(project, "diagnosis:7", "test", clients)
        assert aml.registry_model("diagnosis", "7") is None


def test_test_pins_the_curated_environment_and_prod_runs_the_same_build_after_a_new_one(
    promoted: LoadedConfig, clients: AzureClients, aml: AmlFake
) -> None:
    """`sklearn-1.5@latest` names whatever build Microsoft published last: resolved to its
    version when test deploys, it is then what prod runs, even once a newer build exists."""
    from tests.aml.aml_fake import system_registry_id

    def environment_of(env: str) -> str:
        path = f"/onlineEndpoints/{endpoint_name(env)}/deployments/blue"
        put = [w for w in aml.writes() if w.method == "PUT" and w.path.endswith(path)]
        return put[-1].body["properties"]["environmentId"]

    azure_ml.deploy(promoted, "test", "diagnosis:3", clients)
    pinned = "azureml://registries/azureml/environments/sklearn-1.5/versions/27"
    assert environment_of("test") == pinned
    aml.seed_environment(system_registry_id("azureml"), "sklearn-1.5", "28")  # published later

    azure_ml.promote(promoted, "diagnosis:3", "prod", clients)
    azure_ml.deploy(promoted, "prod", "diagnosis:3", clients)

    assert environment_of("prod") == pinned
