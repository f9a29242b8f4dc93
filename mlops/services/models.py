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
