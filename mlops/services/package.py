"""`mlops package`: a container build context equivalent to what Azure ML builds for a
managed online deployment: its inference base image, the model's conda environment plus the
inference server, the scoring code and the model laid out under AZUREML_MODEL_DIR.

The scoring code is copied as Azure ML snapshots it (`mlops.ignore`: `.amlignore`, else
`.gitignore`, at the code folder's root), and a `.dockerignore` carries the same rules.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import version as version_of
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.config import LoadedConfig, display_path
from mlops.config.checks import printable
from mlops.errors import BadInputError
from mlops.ignore import Snapshot
from mlops.serialize import dump_yaml
from mlops.services import deploy
from mlops.services.run import state_dir

if TYPE_CHECKING:
    from mlops.backends.local.registry import ModelVersion

BASE_IMAGE = "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py39-cpu-inference:latest"
APP = "/var/azureml-app"
SERVER_PACKAGES = ("azureml-inference-server-http", "inference-schema")
_PLAIN = re.compile(r"[A-Za-z0-9_./:@+-]+")


@dataclass(frozen=True)
class Package:
    folder: Path
    image: str
    files: list[str]


def package(loaded: LoadedConfig, reference: str | None, out: Path | None) -> Package:
    """Write the build context for a registered version; its folder must be new or empty.

    Everything is checked before anything is written, and the context is built beside its
    folder and moved into place at the end, so a failure leaves no half-written context.
    """
    code_root, script = deploy.scoring_code(loaded)
    snapshot = Snapshot.of(code_root)
    entry = script.relative_to(code_root).as_posix()
    if snapshot.excludes(entry):
        raise BadInputError(
            f"the scoring script {entry} is excluded by {code_root.name}/{snapshot.source}",
            hint="Azure ML would not upload it either: remove the pattern that matches it",
        )
    if out is not None:
        _refuse_inside_code(out, code_root, snapshot)
    version = deploy.resolve_model(loaded, reference)
    folder = (out or state_dir(loaded) / "packages" / f"{version.name}-{version.version}").resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BadInputError(
            f"{display_path(folder)} exists and is not an empty folder",
            hint="choose another --out",
        )
    image = f"{version.name}:{version.version}"
    dockerfile = _dockerfile(image, entry, f"{APP}/azureml-models/{version.name}/{version.version}")

    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        _write(loaded, version, code_root, snapshot, building, dockerfile, skip=(folder, building))
        with contextlib.suppress(FileNotFoundError):
            folder.rmdir()  # empty, checked above
        os.replace(building, folder)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    files = sorted(_shown(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    return Package(folder, image, files)


def _shown(relative: Path) -> str:
    """A file name as text: bytes that are not UTF-8 (allowed in names) as \\x escapes."""
    raw = relative.as_posix().encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


def _refuse_inside_code(out: Path, code_root: Path, snapshot: Snapshot) -> None:
    """An output folder inside the code it packages would be packaged into itself, unless
    the code folder's ignore rules leave it out."""
    target = out.resolve()
    if not target.is_relative_to(code_root):
        return
    relative = target.relative_to(code_root).as_posix()
    parts = relative.split("/") if relative != "." else []
    ignored = any(snapshot.excludes("/".join(parts[: i + 1]) + "/") for i in range(len(parts)))
    if not ignored:
        raise BadInputError(
            f"--out {display_path(target)} is inside {display_path(code_root)}, the code"
            " folder it packages: the context would be copied into itself",
            hint=f"choose a folder outside {display_path(code_root)}, or list it in"
            f" {display_path(code_root / (snapshot.source or '.amlignore'))}",
        )


def _write(
    loaded: LoadedConfig,
    version: ModelVersion,
    code_root: Path,
    snapshot: Snapshot,
    folder: Path,
    dockerfile: str,
    skip: tuple[Path, ...],
) -> None:
    from ruamel.yaml import YAML

    from mlops.services.models import registry

    name, number = version.name, version.version
    model_dir = folder / "azureml-models" / name / number
    registry(state_dir(loaded)).download(name, number, model_dir)
    for relative in snapshot.files(skip=skip):
        target = folder / "code" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(code_root / relative, target)

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
    (folder / "Dockerfile").write_text(dockerfile)
    (folder / ".dockerignore").write_text(
        "\n".join(
            [
                "# generated by `mlops package`: the ignore rules of the scoring code's folder"
                f" ({snapshot.source or 'none'}),",
                "# so `docker build` sends nothing Azure ML would not upload.",
                *snapshot.dockerignore("code"),
                "",
            ]
        ),
        "utf-8",
        "surrogateescape",  # patterns keep the bytes they were read with (see mlops.ignore)
    )


def _dockerfile(image: str, entry: str, model_path: str) -> str:
    script = _docker_value(f"{APP}/code/{entry}")
    command = json.dumps(
        [
            "azmlinfsrv",
            "--entry_script",
            f"{APP}/code/{entry}",
            "--model_dir",
            model_path,
            "--port",
            "5001",
        ]
    )
    return "\n".join(
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
            f"    AZUREML_ENTRY_SCRIPT={script} \\",
            f"    AZUREML_MODEL_DIR={_docker_value(model_path)}",
            f"COPY code {APP}/code",
            f"COPY azureml-models {APP}/azureml-models",
            "USER dockeruser",
            "EXPOSE 5001",
            f"CMD {command}",
            "",
        ]
    )


def _docker_value(value: str) -> str:
    """`value` as one Dockerfile word, quoted when it must be: no line break can start an
    instruction, no space split it and no `$` expand."""
    if any(not c.isprintable() for c in value):
        raise BadInputError(
            f"{printable(value)} cannot be written into a Dockerfile: it holds control characters",
            hint="rename the scoring script (or the model) to printable characters",
        )
    if _PLAIN.fullmatch(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'
