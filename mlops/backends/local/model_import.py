"""Models trained elsewhere, into the local MLflow registry: the local twin of
`az ml model create`. MLflow types stay here; callers get version numbers and paths.

A registration is one MLflow run (experiment `mlops-models-register`) holding the model
folder under its own name, as Azure ML keeps it (`AZUREML_MODEL_DIR/<folder>/...`), and, when
given, the scoring script under `scoring/`; the version's source is that folder.
"""

from __future__ import annotations

from pathlib import Path

EXPERIMENT = "mlops-models-register"
#: tag of a version registered with its own scoring script: the script's artifact path
SCORING_TAG = "mlops.scoring_script"
SCORING_FOLDER = "scoring"


def register_folder(
    state_dir: Path,
    name: str,
    folder: Path,
    *,
    scoring_script: Path | None,
    tags: dict[str, str],
    description: str,
) -> str:
    """Log `folder` (and `scoring_script`) as a run's artifacts and register a version of
    `name` from it, with `tags`; returns the new version number. Registry writes take turns
    with `mlops run`'s register step (the registry lock)."""
    from filelock import FileLock
    from mlflow.exceptions import MlflowException

    from mlops.backends.local.tracking import REGISTRY_LOCK, open_client

    client = open_client(state_dir)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment(
            EXPERIMENT, artifact_location=(state_dir.resolve() / "artifacts").as_uri()
        )
    )
    run = client.create_run(
        experiment_id, run_name=f"register {name}", tags={"mlops.registered_from": str(folder)}
    )
    run_id = run.info.run_id
    try:
        client.log_artifacts(run_id, str(folder), artifact_path=folder.name)
        if scoring_script is not None:
            client.log_artifact(run_id, str(scoring_script), artifact_path=SCORING_FOLDER)
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
    with FileLock(state_dir / REGISTRY_LOCK, timeout=300):
        try:
            client.create_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        version = client.create_model_version(
            name,
            f"{run.info.artifact_uri}/{folder.name}",
            run_id=run_id,
            tags=tags,
            description=description,
        )
    return str(version.version)


def download_scoring_script(state_dir: Path, run_id: str, artifact: str, destination: Path) -> Path:
    """Copy a registered version's scoring script into `destination`; returns its path."""
    from mlops.backends.local.tracking import open_client

    destination.mkdir(parents=True, exist_ok=True)
    found = open_client(state_dir).download_artifacts(run_id, artifact, str(destination))
    return Path(found)
