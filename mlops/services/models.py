"""`mlops models`: what the local registry holds, by name, version or alias."""

from __future__ import annotations

import re
from pathlib import Path

from mlops.errors import BadInputError, NotFoundError

_REFERENCE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)(?::(?P<version>\d+)|@(?P<alias>[\w-]+))?$"
)
CHAMPION = "champion"


def parse_reference(text: str) -> tuple[str, str | None, str | None]:
    """NAME, NAME:VERSION or NAME@ALIAS; a bare NAME means its champion."""
    match = _REFERENCE.match(text)
    if match is None:
        raise BadInputError(
            f"'{text}' is not a model reference",
            hint="use NAME, NAME:VERSION or NAME@ALIAS, e.g. diagnosis:2 or diagnosis@champion",
        )
    version, alias = match["version"], match["alias"]
    return match["name"], version, alias if (alias or version) else CHAMPION


def registry(state_dir: Path):
    """The local registry, or NotFoundError when nothing was ever tracked here."""
    if not (state_dir / "mlflow.db").exists():
        raise NotFoundError(
            f"no local registry in {state_dir}", hint="train and register a model with `mlops run`"
        )
    from mlops.backends.local.registry import Registry

    return Registry(state_dir)


def show(state_dir: Path, reference: str):
    name, version, alias = parse_reference(reference)
    local = registry(state_dir)
    found = local.get(name, version=version, alias=alias)
    if found is None:
        known = local.versions(name)
        what = f"version {version}" if version else f"alias @{alias}"
        raise NotFoundError(
            f"model '{name}' has no {what}" if known else f"no registered model named '{name}'",
            hint="list what is registered with `mlops models list`",
        )
    return found


# Azure ML model names: letters, digits, '-', '_' and '.', starting with a letter or digit
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_TAG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,249}$")
#: tags mlops writes on a registered version; --tag may not set them
REGISTERED_BY = "mlops models register"
NOT_EVALUATED = (
    "registered with `mlops models register`: trained elsewhere, never evaluated by the gate"
)


def _bad(field: str, message: str, hint: str) -> BadInputError:
    from mlops.errors import Issue

    return BadInputError(
        f"{field}: {message}", hint=hint, issues=[Issue(path=field, message=message, hint=hint)]
    )


def parse_tags(pairs: list[str]) -> dict[str, str]:
    """KEY=VALUE pairs (as `az ml model create --tags`); BadInputError naming --tag."""
    from mlops.gate import FORCE_INPUT, LINEAGE_INPUTS

    reserved = {"gate_decision", "gate_reason", FORCE_INPUT, "forced", "registered_by"}
    reserved |= set(LINEAGE_INPUTS)
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not _TAG_KEY.match(key):
            raise _bad("--tag", f"'{pair}' is not KEY=VALUE", "e.g. --tag framework=sklearn")
        if key in reserved or key.startswith("mlops."):
            raise _bad(
                "--tag",
                f"'{key}' is recorded by mlops itself",
                "choose another key; the gate and lineage tags cannot be set by hand",
            )
        tags[key] = value
    return tags


def register(
    state_dir: Path,
    path: Path,
    name: str,
    *,
    scoring_script: Path | None = None,
    tags: list[str] | None = None,
    description: str | None = None,
):
    """Register a model folder trained elsewhere (an MLflow model, or any folder with its
    scoring script) as a new version of `name`, recorded as not gate-promoted: it never
    becomes champion by itself. Bad input raises BadInputError naming the field."""
    from mlops.backends.local.model_import import SCORING_FOLDER, SCORING_TAG, register_folder

    if not _NAME.match(name):
        raise _bad(
            "--name",
            f"'{name}' cannot be a model name",
            "letters, digits, '-', '_' and '.', starting with a letter or digit",
        )
    user_tags = parse_tags(tags or [])
    folder = path.expanduser()
    if not folder.exists():
        raise _bad("PATH", f"{path} does not exist", "give the folder that holds the model")
    if not folder.is_dir():
        raise _bad(
            "PATH",
            f"{path} is a file, not a model folder",
            f"register its folder: mlops models register {path.parent} --name {name} ...",
        )
    folder = folder.resolve()
    files = [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    mlflow_model = (folder / "MLmodel").is_file()
    if not files:
        raise _bad("PATH", f"{path} is empty", "give the folder that holds the model files")
    script = None
    if scoring_script is not None:
        script = scoring_script.expanduser()
        if not script.is_file():
            raise _bad(
                "--scoring-script",
                f"{scoring_script} does not exist",
                "give the Python file with init() and run(), e.g. onlinescoring/score.py",
            )
        missing = _missing_entry_points(script)
        if missing:
            raise _bad(
                "--scoring-script",
                f"{scoring_script} defines no {' and no '.join(missing)}",
                "Azure ML's scoring contract: def init() loads the model from"
                " AZUREML_MODEL_DIR, def run(raw_data) answers one request",
            )
        script = script.resolve()
    elif not mlflow_model:
        raise _bad(
            "PATH",
            f"{path} is not an MLflow model (no MLmodel file in it)",
            "give its scoring script: --scoring-script path/to/score.py",
        )
    recorded = {
        **user_tags,
        "gate_decision": "not promoted",
        "gate_reason": NOT_EVALUATED,
        "forced": "false",
        "registered_by": REGISTERED_BY,
        "model_type": "mlflow_model" if mlflow_model else "custom_model",
        "source_path": str(folder),
    }
    if script is not None:
        recorded[SCORING_TAG] = f"{SCORING_FOLDER}/{script.name}"
    version = register_folder(
        state_dir,
        name,
        folder,
        scoring_script=script,
        tags=recorded,
        description=description or NOT_EVALUATED,
    )
    return show(state_dir, f"{name}:{version}")


def _missing_entry_points(script: Path) -> list[str]:
    """Which of init() and run() the script does not define at module level."""
    import ast

    try:
        tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
        raise _bad(
            "--scoring-script", f"{script} is not valid Python: {exc}", "fix the script"
        ) from None
    defined = {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    return [f"{entry}()" for entry in ("init", "run") if entry not in defined]
