"""`mlops package`: a container build context equivalent to what Azure ML builds for a
managed online deployment: its inference base image, the model's conda environment plus the
inference server, the scoring code, and the model laid out under AZUREML_MODEL_DIR.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib.metadata import version as version_of
from pathlib import Path

from mlops.config import LoadedConfig
from mlops.serialize import dump_yaml
from mlops.services import deploy
from mlops.services.run import state_dir

BASE_IMAGE = "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference:latest"
APP = "/var/azureml-app"
SERVER_PACKAGES = ("azureml-inference-server-http", "inference-schema")
IGNORED = ("__pycache__", "*.pyc", ".mlops", ".pytest_cache")


@dataclass(frozen=True)
class Package:
    folder: Path
    image: str
    files: list[str]


def package(loaded: LoadedConfig, reference: str | None, out: Path | None) -> Package:
    """Write the build context for a registered version; its folder must be new or empty."""
    from ruamel.yaml import YAML

    from mlops.errors import BadInputError
    from mlops.services.models import registry

    version = deploy.resolve_model(loaded, reference)
    code_root, script = deploy.scoring_code(loaded)
    folder = out or state_dir(loaded) / "packages" / f"{version.name}-{version.version}"
    if folder.exists() and any(folder.iterdir()):
        raise BadInputError(f"{folder} exists and is not empty", hint="choose another --out")
    model_dir = folder / "azureml-models" / version.name / version.version
    registry(state_dir(loaded)).download(version.name, version.version, model_dir)
    shutil.copytree(code_root, folder / "code", ignore=shutil.ignore_patterns(*IGNORED))

    conda_file = next(model_dir.rglob("conda.yaml"))
    environment = YAML(typ="safe").load(conda_file.read_text())
    dependencies = environment.setdefault("dependencies", [])
    pip = next((d for d in dependencies if isinstance(d, dict) and "pip" in d), None)
    if pip is None:
        pip = {"pip": []}
        dependencies.append(pip)
    pip["pip"] += [
        f"{p}=={version_of(p)}"  # the versions the local endpoint ran and was tested with
        for p in SERVER_PACKAGES
        if not any(str(x).startswith(p) for x in pip["pip"])
    ]
    environment["name"] = "amlenv"
    (folder / "conda.yaml").write_text(dump_yaml(environment))

    entry = script.relative_to(code_root).as_posix()
    model_path = f"{APP}/azureml-models/{version.name}/{version.version}"
    image = f"{version.name}:{version.version}"
    (folder / "Dockerfile").write_text(
        "\n".join(
            [
                f"# {image}: built by `mlops package` from the registered model and mlops.yaml.",
                "# The same layers Azure ML builds for a managed online deployment: its inference",
                "# base image, the model's conda environment with the inference server, the",
                "# scoring code and the model under AZUREML_MODEL_DIR.",
                f"FROM {BASE_IMAGE}",
                "USER root",
                "COPY conda.yaml /tmp/conda.yaml",
                "RUN conda env create -p /opt/amlenv -f /tmp/conda.yaml && conda clean -afy",
                "ENV PATH=/opt/amlenv/bin:$PATH \\",
                "    AZUREML_CONDA_ENVIRONMENT_PATH=/opt/amlenv \\",
                f"    AML_APP_ROOT={APP}/code \\",
                f"    AZUREML_ENTRY_SCRIPT={APP}/code/{entry} \\",
                f"    AZUREML_MODEL_DIR={model_path}",
                f"COPY code {APP}/code",
                f"COPY azureml-models {APP}/azureml-models",
                "USER dockeruser",
                "EXPOSE 5001",
                f'CMD ["azmlinfsrv", "--entry_script", "{APP}/code/{entry}",'
                f' "--model_dir", "{model_path}", "--port", "5001"]',
                "",
            ]
        )
    )
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return Package(folder.resolve(), image, files)
