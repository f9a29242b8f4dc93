"""Online deployments collect model inputs and outputs with Azure ML's data collector when
mlops.yaml says so, and the SDK's own loader accepts the spec."""

from __future__ import annotations

import io

import pytest

from mlops.config import LoadedConfig
from mlops.errors import ConfigError
from mlops.render.endpoint import deployment_spec
from mlops.serialize import dump_yaml

COLLECTION_ON = "monitoring:\n  collection: true\n  sampling_rate: 0.5\n"
#: a scoring environment registered in the workspace, which installs azureml-ai-monitoring
SCORING_ENV = "azureml:diagnosis-scoring:3"


def _load_deployment(loaded: LoadedConfig, spec: dict):
    from mlops.backends.azure.aml import quiet

    with quiet():  # the SDK's own deprecation warnings (marshmallow), as deploy silences them
        from azure.ai.ml import load_online_deployment

        return load_online_deployment(
            io.StringIO(dump_yaml(spec)), relative_origin=str(loaded.root / "mlops.yaml")
        )


def test_collection_is_off_by_default(reference_config) -> None:
    loaded = reference_config()

    spec = deployment_spec(loaded.config, "dev", name="blue", model="azureml:diagnosis:1")

    assert "data_collector" not in spec


def test_collection_on_renders_the_data_collector_that_azure_ai_ml_loads(
    reference_config,
) -> None:
    loaded = reference_config(COLLECTION_ON)
    config = loaded.config.model_copy(deep=True)
    config.deployment.environment = SCORING_ENV

    spec = deployment_spec(config, "dev", name="blue", model="azureml:diagnosis:1")
    deployment = _load_deployment(loaded, spec)

    collector = deployment.data_collector
    assert sorted(collector.collections) == ["model_inputs", "model_outputs"]
    for collection in collector.collections.values():
        assert collection.enabled.lower() == "true"
        assert collection.data is None  # the workspace's default blob storage
    assert collector.rolling_rate == "hour"
    assert collector.sampling_rate == 0.5
    # the request body the SDK sends: each collection enabled, sampled at 0.5
    body = deployment._to_rest_object(location="westeurope").as_dict()["properties"]
    assert body["dataCollector"]["collections"] == {
        name: {"dataCollectionMode": "enabled", "samplingRate": 0.5}
        for name in ("model_inputs", "model_outputs")
    }


def test_kubernetes_deployments_collect_too(reference_config) -> None:
    loaded = reference_config(COLLECTION_ON)
    config = loaded.config.model_copy(deep=True)
    config.deployment.target = "kubernetes"
    config.deployment.environment = SCORING_ENV

    spec = deployment_spec(config, "dev", name="green", model="azureml:diagnosis:1")
    deployment = _load_deployment(loaded, spec)

    assert type(deployment).__name__ == "KubernetesOnlineDeployment"
    assert sorted(deployment.data_collector.collections) == ["model_inputs", "model_outputs"]


@pytest.mark.parametrize(
    "environment",
    [
        "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
        "azureml:AzureML-sklearn-1.5@latest",
    ],
)
def test_collection_with_a_curated_environment_that_lacks_the_collector_is_refused(
    reference_config, environment: str
) -> None:
    """The curated images do not install azureml-ai-monitoring: the scoring script could
    not collect, and the deployment would silently gather nothing."""
    loaded = reference_config(COLLECTION_ON)
    config = loaded.config.model_copy(deep=True)
    config.deployment.environment = environment

    with pytest.raises(ConfigError, match="azureml-ai-monitoring") as caught:
        deployment_spec(config, "dev", name="blue", model="azureml:diagnosis:1")
    assert "deployment.environment" in str(caught.value.hint)


def test_a_local_endpoint_in_the_curated_environment_cannot_collect(reference_config) -> None:
    """Isolated serving runs deployment.environment's published packages, as Azure would."""
    from mlops.monitoring.collection import local_collection

    loaded = reference_config(COLLECTION_ON)

    with pytest.raises(ConfigError, match="azureml-ai-monitoring"):
        local_collection(loaded, "diagnosis", "1", isolated=True)
    collection = local_collection(loaded, "diagnosis", "1", isolated=False)
    assert collection is not None
    assert collection.folder.parts[-3:] == ("modelDataCollector", "diagnosis-online", "diagnosis-1")
    assert collection.environment()["MLOPS_COLLECT_SAMPLE_RATE"] == "50"


def test_collection_off_collects_nothing_locally(reference_config) -> None:
    from mlops.monitoring.collection import local_collection

    loaded = reference_config()

    assert local_collection(loaded, "diagnosis", "1", isolated=True) is None
