"""The committed JSON Schema stays in step with the model, and editors find it."""

from __future__ import annotations

import json

import jsonschema
from ruamel.yaml import YAML

from mlops.config.jsonschema import SCHEMA_FILE, keys_at, reference_markdown, schema_text
from tests.conftest import REPO


def test_committed_schema_is_what_the_model_generates():
    committed = (REPO / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == schema_text(), (
        f"{SCHEMA_FILE} is stale: run `mlops config schema > {SCHEMA_FILE}`"
    )


def test_repository_config_points_editors_at_the_committed_schema():
    first_line = (REPO / "mlops.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first_line == f"# yaml-language-server: $schema=./{SCHEMA_FILE}"


def test_schema_is_valid_draft_2020_12_and_accepts_the_repository_config():
    schema = json.loads((REPO / SCHEMA_FILE).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    config = YAML(typ="safe", pure=True).load(REPO / "mlops.yaml")
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(config)) == []


def test_schema_rejects_unknown_keys_as_the_model_does():
    schema = json.loads(schema_text())
    errors = list(
        jsonschema.Draft202012Validator(schema).iter_errors(
            {"project": {"name": "churn"}, "network": {"mood": "vnet"}}
        )
    )
    assert [list(e.absolute_path) for e in errors] == [["network"]]


def test_keys_at_walks_optional_sections_and_named_environments():
    assert "primary_metric" in keys_at(["model"])
    assert keys_at(["environments", "dev"]) == [
        "resource_group",
        "subscription_id",
        "location",
        "approval",
    ]
    assert keys_at(["project", "name"]) == []


def test_readme_embeds_the_current_configuration_reference():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- config-reference:start -->\n", "<!-- config-reference:end -->"
    embedded = readme[readme.index(start) + len(start) : readme.index(end)]
    assert embedded == reference_markdown(), (
        "README's configuration reference is stale: paste `mlops config schema --format markdown`"
    )
