"""The JSON Schema of mlops.yaml, for editors (yaml-language-server) and scripts."""

from __future__ import annotations

from functools import cache
from typing import Any

SCHEMA_FILE = "schemas/mlops.schema.json"


@cache
def config_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of mlops.yaml, generated from the pydantic model."""
    from mlops.config.root import Config

    schema = Config.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mlops.yaml",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text() -> str:
    """The schema exactly as committed in schemas/mlops.schema.json."""
    from mlops.serialize import dump_json

    return dump_json(config_schema())


def keys_at(loc: list[Any]) -> list[str]:
    """The keys the schema allows in the mapping at `loc` (empty when it allows any)."""
    root = config_schema()
    node = _resolve(root, root)
    for part in loc:
        properties = node.get("properties", {})
        if str(part) in properties:
            node = _resolve(root, properties[str(part)])
        elif isinstance(node.get("additionalProperties"), dict):
            node = _resolve(root, node["additionalProperties"])
        elif "items" in node:
            node = _resolve(root, node["items"])
        else:
            return []
    return list(node.get("properties", {}))


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref` and pick the object branch of `anyOf` (how pydantic writes Optional)."""
    while True:
        if "$ref" in node:
            node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            objects = [b for b in node["anyOf"] if "$ref" in b or b.get("type") == "object"]
            if not objects:
                return node
            node = objects[0]
        else:
            return node
