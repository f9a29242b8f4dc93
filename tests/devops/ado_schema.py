"""Azure Pipelines YAML checked against Microsoft's schema, read the way Azure DevOps reads it.

The schema is the copy `check-jsonschema` ships (the one the VS Code extension uses). Azure
DevOps reads every scalar as a string, so the file is loaded with PyYAML's BaseLoader and the
schema's boolean, integer and number types also accept their string spellings and
`$(...)`, `$[...]`, `${{...}}` expressions; patterns and enums marked `ignoreCase` compare
case-insensitively; `${{ if }}` / `${{ each }}` blocks are unnested by check-jsonschema's own
transform before validation.
"""

from __future__ import annotations

import functools
import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from check_jsonschema.transforms.azure_pipelines import traverse_data
from jsonschema import validators

_EXPRESSION = re.compile(r"^\$(\(.*\)|\[.*\]|\{\{.*\}\})$", re.S)
_SPELLINGS = {
    "boolean": re.compile(r"^(true|false|y|yes|n|no|on|off)$", re.I),
    "integer": re.compile(r"^[-+]?\d+$"),
    "number": re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"),
}


def _typed(kind: str, python: tuple[type, ...]) -> Any:
    def check(_checker: Any, value: Any) -> bool:
        if isinstance(value, bool):
            return kind == "boolean"
        if isinstance(value, python):
            return True
        return isinstance(value, str) and bool(
            _SPELLINGS[kind].match(value) or _EXPRESSION.match(value)
        )

    return check


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    if isinstance(instance, str):
        flags = re.I if schema.get("ignoreCase") == "value" else 0
        if not re.search(pattern, instance, flags):
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _enum(validator: Any, choices: list[Any], instance: Any, schema: dict[str, Any]) -> Any:
    if isinstance(instance, str) and schema.get("ignoreCase") in ("value", "all"):
        if instance.lower() in {c.lower() for c in choices if isinstance(c, str)}:
            return
    elif instance in choices:
        return
    yield jsonschema.ValidationError(f"{instance!r} is not one of {choices!r}")


_Validator = validators.extend(
    jsonschema.Draft7Validator,
    validators={"pattern": _pattern, "enum": _enum},
    type_checker=jsonschema.Draft7Validator.TYPE_CHECKER.redefine_many(
        {
            "boolean": _typed("boolean", (bool,)),
            "integer": _typed("integer", (int,)),
            "number": _typed("number", (int, float)),
        }
    ),
)


@functools.cache
def _validator() -> Any:
    vendor = files("check_jsonschema.builtin_schemas.vendor")
    return _Validator(json.loads(vendor.joinpath("azure-pipelines.json").read_text()))


def problems(path: Path) -> list[str]:
    """`where: message` for the deepest errors of one file; [] when it is valid."""
    document = traverse_data(yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader))
    leaves: list[jsonschema.ValidationError] = []

    def walk(error: jsonschema.ValidationError) -> None:
        if error.context:
            for child in error.context:
                walk(child)
        else:
            leaves.append(error)

    for error in _validator().iter_errors(document):
        walk(error)
    leaves.sort(key=lambda e: -len(e.absolute_path))
    seen: list[str] = []
    for error in leaves:
        line = f"{'/'.join(map(str, error.absolute_path)) or '$'}: {error.message[:160]}"
        if line not in seen:
            seen.append(line)
    return seen
