"""Reading rendered environment templates in the network tests."""

from __future__ import annotations

import json
from pathlib import Path

from mlops.config.loader import load_config
from mlops.render.files import render

COMPUTE_OR_AGENT_SUBNETS = ("snet-training", "snet-build-agents", "snet-aks", "snet-jump-hosts")


def templates(path: Path) -> dict[str, dict]:
    """Environment name -> its rendered main.json."""
    files = render(load_config(path).config)
    return {
        f.path.split("/")[1]: json.loads(f.text)
        for f in files
        if f.path.endswith("/main.json") and not f.path.startswith("infra/roles/")
    }


def resources(template: dict, rtype: str) -> list[dict]:
    return [r for r in template["resources"] if r["type"] == rtype]


def one(template: dict, rtype: str) -> dict:
    (found,) = resources(template, rtype)
    return found


def subnets(template: dict) -> dict[str, dict]:
    vnet = one(template, "Microsoft.Network/virtualNetworks")
    return {s["name"]: s["properties"] for s in vnet["properties"]["subnets"]}


def by_id(template: dict, expression: str) -> dict:
    """The resource an id expression like [resourceId('T', 'n')] names."""
    for resource in template["resources"]:
        name = ", ".join(f"'{part}'" for part in resource["name"].split("/"))
        if expression == f"[resourceId('{resource['type']}', {name})]":
            return resource
    raise KeyError(expression)
