"""The one serializer for what the tool writes: deterministic JSON and YAML, never templated."""

from __future__ import annotations

import io
import json
from typing import Any


def dump_json(data: Any) -> str:
    """Two-space indented JSON with a trailing newline, keys in the order given."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def dump_yaml(data: Any) -> str:
    """Block-style YAML, keys in the order given, long strings unwrapped."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    yaml.width = 4096
    # after the settings above: the representer is built from them on first access
    yaml.representer.add_representer(str, _block_when_multiline)
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _block_when_multiline(representer: Any, data: str) -> Any:
    """Scripts and other multi-line strings as literal blocks (`|`), readable as written."""
    if "\n" in data:
        return representer.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return representer.represent_str(data)
