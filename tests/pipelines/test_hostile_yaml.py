"""Hostile pipeline and component files exit 2 with a located message before anything runs:
components that use themselves, files nested or sized to overflow the parsers, bad bytes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlops.limits import MAX_AML_YAML_BYTES, MAX_COMPONENT_NESTING, MAX_YAML_DEPTH
from tests.conftest import run_cli

PIPELINE_COMPONENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponent.schema.json
type: pipeline
name: {name}
inputs:
  source:
    type: uri_folder
  word:
    type: string
outputs:
  result:
    type: uri_folder
jobs:
  inner:
    type: pipeline
    component: {uses}
    inputs:
      source: ${{{{parent.inputs.source}}}}
      word: ${{{{parent.inputs.word}}}}
    outputs:
      result: ${{{{parent.outputs.result}}}}
"""
COMPONENT_LINE = 15  # the line of `component:` above


def component(root: Path, name: str, uses: str) -> None:
    (root / "components" / f"{name}.yml").write_text(
        PIPELINE_COMPONENT.format(name=name, uses=uses)
    )


def use_in_pipeline(root: Path, name: str) -> None:
    pipeline = root / "pipeline.yml"
    pipeline.write_text(
        pipeline.read_text().replace("./components/outer.yml", f"./components/{name}.yml")
    )


def refused(*args: str) -> dict:
    """`mlops ARGS` exits 2 with no traceback and nothing run or written; the JSON report."""
    result = run_cli(*args, "--output", "json")
    assert result.exception is None, repr(result.exception)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert not Path(".mlops/runs").exists()
    assert not Path(".mlops/validated").exists()
    report = result.json()
    assert "RecursionError" not in str(report) and "bug in mlops" not in str(report)
    return report


def test_a_component_using_itself_is_named_at_its_line_and_exits_2(pipeline_project):
    root = pipeline_project("nested")
    component(root, "loop", "./loop.yml")
    use_in_pipeline(root, "loop")

    report = refused("run", "pipeline.yml")

    issue = report["issues"][0]
    assert (issue["file"], issue["line"]) == ("components/loop.yml", COMPONENT_LINE)
    assert issue["path"] == "jobs.inner.component"
    assert "cycle: components/loop.yml -> components/loop.yml" in issue["message"]
    assert issue["hint"]


def test_a_cycle_of_component_files_is_named_and_exits_2(pipeline_project):
    root = pipeline_project("nested")
    component(root, "a", "./b.yml")
    component(root, "b", "./a.yml")
    use_in_pipeline(root, "a")

    for args in (("run", "pipeline.yml"), ("validate", "pipeline.yml", "components")):
        report = refused(*args)
        messages = [i["message"] for i in report["issues"]]
        assert any(
            "components/a.yml -> components/b.yml -> components/a.yml" in m for m in messages
        ), messages


def test_a_component_file_in_a_cycle_is_refused_when_validated_on_its_own(pipeline_project):
    root = pipeline_project("nested")
    component(root, "a", "./b.yml")
    component(root, "b", "./a.yml")

    issue = refused("validate", "components/b.yml")["issues"][0]

    assert issue["file"] == "components/a.yml" and issue["line"] == COMPONENT_LINE
    assert "components/b.yml -> components/a.yml -> components/b.yml" in issue["message"]


def test_components_nested_past_the_limit_are_refused_without_a_cycle(pipeline_project):
    root = pipeline_project("nested")
    depth = MAX_COMPONENT_NESTING + 5
    for level in range(depth):
        component(root, f"level{level}", f"./level{level + 1}.yml")
    (root / "components" / f"level{depth}.yml").write_text(
        (root / "components" / "inner.yml").read_text()
    )
    use_in_pipeline(root, "level0")

    report = refused("run", "pipeline.yml")

    assert f"more than {MAX_COMPONENT_NESTING} files deep" in report["issues"][0]["message"]


@pytest.mark.parametrize(
    "nested",
    ["[" * 10_000 + "]" * 10_000, "{a: " * 10_000 + "1" + "}" * 10_000],
    ids=["sequences", "mappings"],
)
def test_deeply_nested_yaml_in_a_component_is_refused_at_its_line(nested, pipeline_project):
    root = pipeline_project("nested")
    inner = root / "components" / "inner.yml"
    lines = inner.read_text().splitlines()
    inner.write_text("\n".join([*lines, f"tags: {{deep: {nested}}}", ""]))

    for args in (("run", "pipeline.yml"), ("validate", "pipeline.yml", "components")):
        issue = refused(*args)["issues"][0]
        assert (issue["file"], issue["line"]) == ("components/inner.yml", len(lines) + 1)
        assert f"nested deeper than {MAX_YAML_DEPTH} levels" in issue["message"]
        assert issue["path"].startswith("tags.deep.")


def test_deeply_nested_yaml_in_the_pipeline_file_is_refused(pipeline_project):
    root = pipeline_project("nested")
    pipeline = root / "pipeline.yml"
    pipeline.write_text(pipeline.read_text() + "tags: " + "[" * 5000 + "]" * 5000 + "\n")

    issue = refused("validate", "pipeline.yml")["issues"][0]

    assert issue["file"] == "pipeline.yml" and issue["line"] == 21


def test_a_pipeline_file_over_the_size_limit_is_refused_before_parsing(pipeline_project):
    root = pipeline_project("nested")
    pipeline = root / "pipeline.yml"
    with pipeline.open("a") as stream:
        stream.write(("# " + "x" * 1021 + "\n") * (MAX_AML_YAML_BYTES // 1024 + 1))

    started = time.perf_counter()
    report = refused("run", "pipeline.yml")

    assert time.perf_counter() - started < 5
    assert "2 MiB" in report["issues"][0]["message"]
    assert report["issues"][0]["file"] == "pipeline.yml"


def test_non_utf8_bytes_in_a_component_name_the_file_line_and_column(pipeline_project):
    root = pipeline_project("nested")
    append = root / "components" / "append.yml"
    lines = append.read_bytes().splitlines(keepends=True)
    append.write_bytes(b"".join(lines) + b"description: caf\xe9\n")

    for args in (("run", "pipeline.yml"), ("validate", "pipeline.yml", "components")):
        issue = refused(*args)["issues"][0]
        assert (issue["file"], issue["line"], issue["column"]) == (
            "components/append.yml",
            len(lines) + 1,
            17,
        )
        assert "not UTF-8" in issue["message"]


def test_aliases_expanding_to_billions_of_values_are_refused(pipeline_project):
    root = pipeline_project("nested")
    bomb = ["a: &a [" + ", ".join(["x"] * 10) + "]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        bomb.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    pipeline = root / "pipeline.yml"
    pipeline.write_text(pipeline.read_text() + "tags:\n" + "".join(f"  {b}\n" for b in bomb))

    issue = refused("run", "pipeline.yml")["issues"][0]

    assert "values, the limit" in issue["message"] and issue["file"] == "pipeline.yml"


@pytest.mark.parametrize("reference", ['"./a\\0b.yml"', '"./$(id).yml"', '"./ x;y .yml"'])
def test_a_hostile_component_path_is_reported_as_missing_at_its_line(reference, pipeline_project):
    root = pipeline_project("nested")
    pipeline = root / "pipeline.yml"
    pipeline.write_text(pipeline.read_text().replace("./components/outer.yml", reference))

    report = refused("run", "pipeline.yml")

    assert any(i["file"] == "pipeline.yml" and i["line"] == 11 for i in report["issues"])


def test_a_code_path_with_a_nul_byte_is_reported_at_its_line(pipeline_project):
    root = pipeline_project("nested")
    append = root / "components" / "append.yml"
    append.write_text(append.read_text().replace("code: ../src", 'code: "../s\\0rc"'))

    for args in (("run", "pipeline.yml"), ("validate", "components")):
        issues = refused(*args)["issues"]
        assert any(
            (i["file"], i["line"], i["path"]) == ("components/append.yml", 16, "code")
            for i in issues
        ), issues
