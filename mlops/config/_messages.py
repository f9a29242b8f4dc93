"""Turn pydantic's validation errors into messages and hints a user can act on."""

from __future__ import annotations

from typing import Any

from mlops.config.checks import did_you_mean, printable

_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def describe(value: Any) -> str:
    """A short description of what the YAML held, for 'got ...' messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string '{printable(value)}'"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"a {type(value).__name__}"


def explain(
    error: dict[str, Any], allowed_keys: list[str], schema: dict[str, Any]
) -> tuple[str, str | None]:
    """Message and hint for one pydantic error.

    `allowed_keys` are the keys valid beside the failing one; `schema` is the JSON Schema of
    the failing value, whose description and examples make type errors actionable.
    """
    kind = error["type"]
    loc = [str(p) for p in error["loc"]]
    field = loc[-1] if loc else ""
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return f"unknown key '{field}'", did_you_mean(field, allowed_keys) or None
    if kind == "missing":
        return f"required key '{field}' is missing", f"add `{field}:` here"
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, got {describe(error.get('input'))}", _about(schema)
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",")]
        got = error.get("input")
        hint = did_you_mean(str(got), choices) if isinstance(got, str) else None
        return f"expected {expected}, got {describe(got)}", hint
    if "hint" in ctx:  # our own constrained types
        return error["msg"], ctx["hint"] or None
    return error["msg"], None


def _about(schema: dict[str, Any]) -> str | None:
    """What the schema says the value is, with an example when it has one."""
    parts = []
    if schema.get("description"):
        parts.append(" ".join(schema["description"].split()).rstrip("."))
    if schema.get("examples"):
        parts.append(f"for example '{schema['examples'][0]}'")
    elif "default" in schema and schema["default"] not in (None, {}, []):
        parts.append(f"default: {schema['default']!r}")
    return "; ".join(parts) or None
