"""`mlops package`: a container build context equivalent to what Azure ML builds for a
managed online deployment: the image of deployment.environment (a curated environment, as
Microsoft publishes it), the scoring code and the model laid out under AZUREML_MODEL_DIR.

The environment is resolved as the local endpoint resolves it (`deploy.serving_environment`),
so the server that `mlops deploy --env local` runs has the packages of the image's conda file.

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
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.config import LoadedConfig, display_path
from mlops.config.checks import printable
from mlops.errors import BadInputError
from mlops.ignore import Snapshot
from mlops.services import deploy
from mlops.services.run import state_dir

if TYPE_CHECKING:
    from mlops.backends.local.registry import ModelVersion

APP = "/var/azureml-app"
#: the user the server runs as: not root (curated images have no other user of their own)
APP_USER, APP_UID = "azureml-app", 10001
_PLAIN = re.compile(r"[A-Za-z0-9_./:@+-]+")
_ENVIRONMENT_HINT = (
    "mlops package builds on the image of a curated environment, as Microsoft publishes it;"
    " use one, e.g. deployment.environment:"
    " azureml://registries/azureml/environments/sklearn-1.5/labels/latest"
)


@dataclass(frozen=True)
class Package:
    folder: Path
    image: str
    files: list[str]
    base_image: str = ""
    environment: str = ""  # deployment.environment as resolved, with its snapshot


def package(loaded: LoadedConfig, reference: str | None, out: Path | None) -> Package:
    """Write the build context for a registered version; its folder must be new or empty.

    Everything is checked before anything is written, and the context is built beside its
    folder and moved into place at the end, so a failure leaves no half-written context.
    """
    code_root, script = deploy.scoring_code(loaded)
    environment = deploy.serving_environment(loaded, "isolated", hint=_ENVIRONMENT_HINT)
    if environment.image is None:
        raise BadInputError(
            f"deployment.environment {environment.source} has no image to build on",
            hint=_ENVIRONMENT_HINT,
        )
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
    from mlops.backends.local.model_import import SCORING_TAG

    if SCORING_TAG in version.tags:  # its own script, not model.scoring_script: not packed yet
        raise BadInputError(
            f"{version.name}:{version.version} was registered with its own scoring script;"
            " `mlops package` packs model.scoring_script only",
            hint="serve it with `mlops deploy --env local`, or package a version `mlops run`"
            " registered",
        )
    folder = (out or state_dir(loaded) / "packages" / f"{version.name}-{version.version}").resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BadInputError(
            f"{display_path(folder)} exists and is not an empty folder",
            hint="choose another --out",
        )
    image = f"{version.name}:{version.version}"
    model_path = f"{APP}/azureml-models/{version.name}/{version.version}"
    dockerfile = _dockerfile(image, environment.image, environment.source, entry, model_path)

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
    return Package(folder, image, files, environment.image, environment.source)


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
    from mlops.services.models import registry

    name, number = version.name, version.version
    model_dir = folder / "azureml-models" / name / number
    registry(state_dir(loaded)).download(name, number, model_dir)
    for relative in snapshot.files(skip=skip):
        target = folder / "code" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(code_root / relative, target)

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


def _dockerfile(image: str, base: str, source: str, entry: str, model_path: str) -> str:
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
            "# What Azure ML runs for a managed online deployment: the image of the deployment's",
            f"# environment: {_comment(source)},",
            "# with the scoring code and the model under AZUREML_MODEL_DIR.",
            f"FROM {_docker_value(base)}",
            f"ENV AML_APP_ROOT={APP}/code \\",
            f"    AZUREML_ENTRY_SCRIPT={script} \\",
            f"    AZUREML_MODEL_DIR={_docker_value(model_path)}",
            f"COPY code {APP}/code",
            f"COPY azureml-models {APP}/azureml-models",
            f"RUN useradd --system --no-create-home --uid {APP_UID} {APP_USER}",
            f"USER {APP_USER}",
            "EXPOSE 5001",
            f"CMD {command}",
            "",
        ]
    )


def _comment(text: str) -> str:
    """`text` on one comment line: line breaks would start a Dockerfile instruction."""
    return " ".join(printable(text, limit=300).split())


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
