"""Serverless compute: no Azure role withholds it, so `mlops run --env` refuses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.errors import BadInputError
from mlops.rbac.serverless import serverless_steps
from mlops.services.azure_ml.training import refuse_serverless

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("job", "steps"),
    [
        (
            {"type": "pipeline", "settings": {"default_compute": "azureml:cpu"}, "jobs": {"a": {}}},
            [],
        ),
        ({"type": "pipeline", "jobs": {"a": {"compute": "azureml:cpu"}, "b": {}}}, ["b"]),
        ({"type": "pipeline", "compute": "azureml:cpu", "jobs": {"a": {}}}, []),
        ({"type": "command", "command": "python train.py"}, ["(the job)"]),
        ({"type": "command", "compute": "azureml:cpu"}, []),
        ({"type": "spark", "resources": {"instance_type": "standard_e4s_v3"}}, ["(the job)"]),
        (
            {
                "type": "pipeline",
                "jobs": {"inner": {"type": "pipeline", "jobs": {"x": {}, "y": {"compute": "c"}}}},
            },
            ["inner.x"],
        ),
    ],
)
def test_a_step_without_compute_is_a_serverless_step(job: dict, steps: list[str]) -> None:
    assert serverless_steps(job) == steps


def test_run_refuses_a_pipeline_that_would_run_serverless(tmp_path: Path) -> None:
    pipeline = tmp_path / "train.yml"
    pipeline.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\n"
        "type: pipeline\n"
        "jobs:\n"
        "  train:\n"
        "    type: command\n"
        "    command: python train.py\n"
        "    environment: azureml:AzureML-sklearn-1.5@latest\n"
    )

    with pytest.raises(BadInputError) as refused:
        refuse_serverless(pipeline)

    assert "train" in refused.value.message and "serverless" in refused.value.message
    assert "default_compute" in (refused.value.hint or "")


def test_this_repositorys_pipeline_runs_on_its_cluster() -> None:
    refuse_serverless(ROOT / "pipelines" / "train.yml")
