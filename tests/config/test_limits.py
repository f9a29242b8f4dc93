"""Hostile mlops.yaml files exit 2 with a located message, refused before they can hang or
overflow the parser; every bad environment name is reported at its own line."""

from __future__ import annotations

import os
import time

import pytest

from mlops.limits import MAX_CONFIG_BYTES, MAX_YAML_DEPTH, MAX_YAML_VALUES


def refused(cli, tmp_path) -> dict:
    """`mlops config validate` exits 2, writes nothing, and returns its JSON report."""
    before = sorted(os.listdir(tmp_path))
    result = cli("config", "validate", "--output", "json")
    assert result.exception is None, repr(result.exception)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert sorted(os.listdir(tmp_path)) == before
    report = result.json()
    assert report["ok"] is False and report["error"] == "ConfigError"
    return report


def write_bytes(tmp_path, data: bytes) -> None:
    (tmp_path / "mlops.yaml").write_bytes(data)


def test_a_60_mb_config_is_refused_before_parsing_naming_the_limit(project, cli, tmp_path):
    project("")
    line = b"# " + b"x" * 1021 + b"\n"
    write_bytes(tmp_path, b"project: {name: churn}\n" + line * (60 * 1024))

    started = time.perf_counter()
    report = refused(cli, tmp_path)

    assert time.perf_counter() - started < 5  # parsing it would take minutes
    assert "1 MiB" in report["message"] and "refused before parsing" in report["message"]
    assert report["issues"][0]["file"] == "mlops.yaml"
    assert MAX_CONFIG_BYTES == 1 << 20


def test_a_config_just_under_the_limit_is_still_read(project, cli, tmp_path):
    project("")
    padding = b"#" * 1000 + b"\n"
    body = b"project: {name: churn}\n"
    write_bytes(tmp_path, body + padding * ((MAX_CONFIG_BYTES - len(body)) // len(padding)))
    assert cli("config", "validate").exit_code == 0


@pytest.mark.parametrize(
    "nested",
    ["[" * 10_000 + "]" * 10_000, "{a: " * 10_000 + "1" + "}" * 10_000],
    ids=["sequences", "mappings"],
)
def test_10000_levels_of_nesting_are_refused_at_the_line_where_the_limit_was_passed(
    nested, project, cli, tmp_path
):
    project(f"project: {{name: churn}}\nextra: {nested}\n")

    report = refused(cli, tmp_path)

    assert f"nested deeper than {MAX_YAML_DEPTH} levels" in report["message"]
    issue = report["issues"][0]
    assert (issue["file"], issue["line"]) == ("mlops.yaml", 2)
    assert issue["path"].startswith("extra.")
    assert "RecursionError" not in str(report)


def test_block_style_nesting_past_the_limit_names_its_line(project, cli, tmp_path):
    lines = ["project: {name: churn}", "extra:"]
    lines += ["  " * depth + "a:" for depth in range(1, 150)] + ["  " * 150 + "a: 1"]
    project("\n".join(lines) + "\n")

    issue = refused(cli, tmp_path)["issues"][0]

    # line 101 holds the 99th `a:`, whose value is the 101st mapping counting the top one
    assert issue["line"] == 1 + MAX_YAML_DEPTH


def test_nesting_at_the_limit_is_parsed_and_checked_as_usual(project, cli, tmp_path):
    project("project: {name: churn}\nextra: " + "[" * 99 + "]" * 99 + "\n")
    report = refused(cli, tmp_path)
    assert report["issues"][0]["message"].startswith("unknown key 'extra'")


def test_aliases_expanding_to_billions_of_values_are_refused(project, cli, tmp_path):
    lines = ["project: {name: churn}", "a: &a [" + ", ".join(["x"] * 10) + "]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    project("\n".join(lines) + "\n")

    report = refused(cli, tmp_path)

    assert f"more than {MAX_YAML_VALUES:,} values" in report["message"]
    assert report["issues"][0]["line"] is not None


def test_non_utf8_bytes_are_refused_at_their_line_and_column(project, cli, tmp_path):
    project("")
    write_bytes(tmp_path, b"project:\n  name: churn\n  description: caf\xe9 au lait\n")

    report = refused(cli, tmp_path)

    assert report["message"] == "mlops.yaml is not UTF-8 text"
    issue = report["issues"][0]
    assert (issue["file"], issue["line"], issue["column"]) == ("mlops.yaml", 3, 19)
    assert "0xe9" in issue["message"]


def test_a_nul_byte_is_refused_at_its_line(project, cli, tmp_path):
    project("")
    write_bytes(tmp_path, b"project:\n  name: churn\n  description: a\x00b\n")
    issue = refused(cli, tmp_path)["issues"][0]
    assert (issue["line"], issue["column"]) == (3, 17)
    assert "U+0000" in issue["message"]


def test_environment_names_with_shell_metacharacters_are_each_reported_at_their_line(
    project, cli, tmp_path
):
    project(
        """
        project: {name: churn}
        environments:
          dev$(id): {}
          te st: {}
          a;b: {}
          "x`y`": {}
          prod: {}
          test: {location: West Europe}
        """
    )

    report = refused(cli, tmp_path)

    located = [(i["line"], i["path"]) for i in report["issues"]]
    assert located == [
        (4, "environments.dev$(id)"),
        (5, "environments.te st"),
        (6, "environments.a;b"),
        (7, "environments.x`y`"),
        (9, "environments.test.location"),  # the other problems still reported, at once
    ]
    assert "it contains '$', '(', ')'" in report["issues"][0]["message"]
    assert "rename it" in report["issues"][0]["hint"]


def test_control_characters_in_a_name_are_shown_escaped_never_raw(project, cli, tmp_path):
    project(
        """
        project: {name: churn}
        environments:
          "dev\\e[31m\\n##vso[task.setvariable variable=x]1": {}
        """
    )

    result = cli("config", "validate")

    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\n##vso[task.setvariable" not in result.stderr
    assert "mlops.yaml:4:3: error: environments.dev\\x1b[31m\\n##vso" in result.stderr


def test_numeric_and_empty_environment_names_are_reported_not_crashed_on(project, cli, tmp_path):
    project(
        """
        project: {name: churn}
        environments:
          123: {}
          "": {}
          dev: {}
        """
    )
    located = [(i["line"], i["path"]) for i in refused(cli, tmp_path)["issues"]]
    assert located == [(4, "environments.123"), (5, "environments.")]
