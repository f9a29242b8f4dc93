"""The JSON Schema of mlops.yaml, for editors (yaml-language-server) and scripts."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

SCHEMA_FILE = "schemas/mlops.schema.json"


@cache
def config_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of mlops.yaml, generated from the pydantic model."""
    from mlops.config.root import Config

    schema = Config.model_json_schema(mode="validation")
    _close_pattern_maps(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mlops.yaml",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text() -> str:
    """The schema exactly as committed in schemas/mlops.schema.json."""
    from mlops.serialize import dump_json

    return dump_json(config_schema())


def node_at(loc: list[Any]) -> dict[str, Any]:
    """The schema of the value at `loc`, with `$ref` and Optional resolved ({} when unknown)."""
    root = config_schema()
    node = _resolve(root, root)
    for part in loc:
        properties = node.get("properties", {})
        if str(part) in properties:
            child = properties[str(part)]
        elif _map_values(node) is not None:
            child = _map_values(node)
        elif "items" in node:
            child = node["items"]
        else:
            return {}
        node = _resolve(root, child)
        if "description" in child:  # a field's description sits beside its $ref or anyOf
            node = {**node, "description": child["description"]}
    return node


def keys_at(loc: list[Any]) -> list[str]:
    """The keys the schema allows in the mapping at `loc` (empty when it allows any)."""
    return list(node_at(loc).get("properties", {}))


def _map_values(node: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a mapping's values when its keys are free names (environments, data)."""
    if isinstance(node.get("additionalProperties"), dict):
        return node["additionalProperties"]
    patterns = list(node.get("patternProperties", {}).values())
    return patterns[0] if patterns else None


def _close_pattern_maps(node: Any) -> None:
    """Keys that miss a pattern are errors in the model, so they are in the schema too."""
    if isinstance(node, dict):
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close_pattern_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_maps(value)


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref` and pick the object branch of `anyOf` (how pydantic writes Optional)."""
    while True:
        if "$ref" in node:
            node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            branches = [b for b in node["anyOf"] if b.get("type") != "null"]
            objects = [b for b in branches if "$ref" in b or b.get("type") == "object"]
            if not (objects or len(branches) == 1):
                return node
            node = (objects or branches)[0]
        else:
            return node


def reference_markdown() -> str:
    """A Markdown reference of every key, generated from the schema (the README embeds it)."""
    root = config_schema()
    lines: list[str] = []
    for section, node in root["properties"].items():
        resolved = _resolve(root, node)
        lines += ["", f"#### `{section}`", "", resolved.get("description", "").strip()]
        rows = _rows(root, resolved, prefix="")
        if rows:
            lines += ["", "| key | type | default | meaning |", "|---|---|---|---|"]
            lines += [f"| `{k}` | {t} | {d} | {m} |" for k, t, d, m in rows]
    return "\n".join(lines).strip() + "\n"


def _rows(root: dict[str, Any], node: dict[str, Any], prefix: str) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for key, child in node.get("properties", {}).items():
        resolved = _resolve(root, child)
        name = f"{prefix}{key}"
        if resolved.get("type") == "object" and "properties" in resolved:
            rows += _rows(root, resolved, f"{name}.")
            continue
        if _map_values(resolved) is not None:
            value = _resolve(root, _map_values(resolved))
            if "properties" in value:
                rows += _rows(root, value, f"{name}.<name>.")
                continue
        if resolved.get("type") == "array" and "$ref" in resolved.get("items", {}):
            rows += _rows(root, _resolve(root, resolved["items"]), f"{name}[].")
            continue
        rows.append((name, _type(child), _default(child), _meaning(child, resolved)))
    if _map_values(node) is not None and not prefix:
        rows += _rows(root, _resolve(root, _map_values(node)), "<name>.")
    return rows


def _type(node: dict[str, Any]) -> str:
    branches = node.get("anyOf", [node])
    names = []
    for branch in branches:
        if "enum" in branch:
            names.append(" \\| ".join(f"`{v}`" for v in branch["enum"]))
        elif "const" in branch:
            names.append(f"`{branch['const']}`")
        elif branch.get("type") == "array":
            names.append(f"list of {_type(branch.get('items', {}))}")
        elif branch.get("type") == "object":
            names.append("mapping")
        elif branch.get("type") and branch["type"] != "null":
            names.append(branch["type"])
    return " or ".join(names) or "any"


def _default(node: dict[str, Any]) -> str:
    if "default" not in node:
        return "required"
    value = node["default"]
    if value is None:
        return "unset"
    if isinstance(value, dict | list) and len(json.dumps(value)) > 40:
        return "see `mlops config show`"
    return f"`{json.dumps(value)}`"


def _meaning(node: dict[str, Any], resolved: dict[str, Any]) -> str:
    text = node.get("description") or resolved.get("description") or ""
    text = " ".join(text.split()).replace("|", "\\|")
    return text.replace("<", "&lt;").replace(">", "&gt;")
