"""Random damage to a valid config never produces a traceback: only exit 0 or exit 2."""

from __future__ import annotations

import copy
import io
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from tests.conftest import run_cli

ID = "11111111-2222-3333-4444-555555555555"

VALID: dict[str, Any] = {
    "project": {"name": "churn", "description": "reference"},
    "azure": {"tenant_id": ID, "subscription_id": ID, "location": "westeurope", "name_prefix": "c"},
    "environments": {
        "local": {"state_dir": ".mlops"},
        "dev": {"resource_group": "rg-dev"},
        "prod": {
            "subscription_id": ID,
            "location": "northeurope",
            "approval": {"approvers": ["platform_owners", "sg-eng"], "min_approvers": 1},
        },
    },
    "network": {
        "mode": "vnet",
        "address_space": ["10.0.0.0/16"],
        "subnets": {"private_endpoints": "10.0.0.0/24", "training": "10.0.1.0/24"},
        "private_dns_zones": {"create": True, "existing": {}},
        "build_agents": {"vm_size": "Standard_D2ads_v5", "max_agents": 2},
    },
    "identities": {
        "platform_engineers": [{"name": "sg-eng", "object_id": ID}],
        "cicd": {"dev": {"client_id": ID, "object_id": ID}},
    },
    "devops": {"organization_url": "https://dev.azure.com/contoso", "project": "ml"},
    "compute": {"clusters": {"cpu-cluster": {"size": "Standard_DS3_v2", "max_nodes": 2}}},
    "data": {"churn-raw": {"type": "uri_file", "local_path": "data/churn.csv"}},
    "model": {"primary_metric": "roc_auc", "threshold": 0.7, "min_improvement": 0.01},
    "deployment": {"target": "managed", "traffic_steps": [10, 100]},
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "local", "dev", "10.0.0.0/8", ID, "Standard_DS3_v2", "managed"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            out += _paths(child, (*prefix, index))
    return out


@st.composite
def damaged_configs(draw: st.DrawFn) -> dict[str, Any]:
    config = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p in _paths(config) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = config
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add_key"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
    return config


def _dump(data: Any) -> str:
    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, stream)
    return stream.getvalue()


def test_the_undamaged_config_is_valid(project):
    project(_dump(VALID))
    result = run_cli("config", "validate")
    assert result.exit_code == 0, result.stderr


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(config=damaged_configs())
def test_damaged_config_exits_0_or_2_without_a_traceback(config, project):
    project(_dump(config))
    result = run_cli("config", "validate", "--output", "json")
    assert result.exception is None, repr(result.exception)
    assert result.exit_code in (0, 2)
    report = result.json()
    assert report["ok"] is (result.exit_code == 0)
    if result.exit_code == 2 and report.get("issues"):
        assert all(i["line"] >= 1 and i["message"] for i in report["issues"])


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(min_value=0, max_value=2000),
    junk=st.text(alphabet=st.sampled_from(list(":-[]{}#&*!|>'\"%@` \n\t")), max_size=8),
)
def test_damaged_yaml_text_exits_0_or_2_without_a_traceback(cut, junk, project):
    text = _dump(VALID)
    cut %= len(text)
    project(text[:cut] + junk + text[cut:])
    result = run_cli("config", "validate")
    assert result.exception is None, repr(result.exception)
    assert result.exit_code in (0, 2)
