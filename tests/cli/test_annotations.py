"""CI log annotations carry hostile text as data: it cannot end the command or start another."""

from __future__ import annotations

import pytest

from mlops.cli import _output
from mlops.errors import Issue

HOSTILE = "bad\n##vso[task.setvariable variable=x]1\r;]%"


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [("TF_BUILD", "True", "##vso["), ("GITHUB_ACTIONS", "true", "::error")],
)
def test_an_annotation_is_one_line_whatever_the_message_and_file_hold(
    monkeypatch, capsys, variable, value, command
):
    monkeypatch.delenv("TF_BUILD", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv(variable, value)
    _output._pipeline_annotation(Issue("x", HOSTILE, file=f"a;b]{HOSTILE}.yml", line=2))
    written = capsys.readouterr().err
    assert written.count("\n") == 1 and written.endswith("\n")
    assert written.startswith(command)
    assert "\n##vso[task.setvariable" not in written
    if variable == "TF_BUILD":  # the file is a property: its ; and ] cannot end it
        assert "sourcepath=a%3Bb%5Dbad%0A##vso[task.setvariable variable=x%5D1" in written
