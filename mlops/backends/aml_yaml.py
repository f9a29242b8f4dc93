"""Azure ML YAML through `azure-ai-ml`'s own loaders: what Azure ML rejects is rejected here.

The SDK's messages are kept word for word, located by file and line where it says.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from pathlib import Path
from typing import Any

from mlops.errors import Issue

_LOCATION = re.compile(r"^(?P<file>.*?)#line (?P<line>\d+)$")


COMPONENT_KINDS = ("command", "pipeline_component")


def yaml_kind(data: dict[str, Any]) -> str:
    """'pipeline' (a job), 'pipeline_component', 'command' or another Azure ML type.

    From `type:` and the `$schema` URL; a pipeline file without a schema counts as a job
    unless another file uses it as a component. 'command' is a command job or a command
    component (its `$schema` or its use by a pipeline tells which); a file with `command:`
    and no `type:` is one, as `type: command` is Azure ML's default.
    """
    schema = str(data.get("$schema", ""))
    kind = str(data.get("type") or "")
    if kind == "pipeline" and "pipelineComponent" in schema:
        return "pipeline_component"
    if kind:
        return kind
    for name, kind in (
        ("pipelineJob", "pipeline"),
        ("pipelineComponent", "pipeline_component"),
        ("commandComponent", "command"),
    ):
        if name in schema:
            return kind
    return "command" if "command" in data else "unknown"


def load_issues(path: Path, kind: str) -> list[Issue]:
    """Load `path` with the SDK loader for its kind; the SDK's complaints as issues."""
    with warnings.catch_warnings():  # the SDK's own deprecations are not the user's problem
        warnings.simplefilter("ignore")
        return _load_issues(path, kind)


def _load_issues(path: Path, kind: str) -> list[Issue]:
    from azure.ai.ml import load_component, load_job

    _quiet_sdk()

    from mlops.config import display_path

    shown = display_path(path)
    try:
        if kind in COMPONENT_KINDS:
            load_component(source=path)
        else:
            load_job(source=path)
    except Exception as exc:  # the SDK raises marshmallow, its own and builtin exceptions
        return _issues_from(exc, path, shown)
    return []


def _issues_from(exc: Exception, path: Path, shown: str) -> list[Issue]:
    text = getattr(exc, "message", None) or str(exc)
    report = _embedded_report(text)
    if report is None:
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        return [Issue("", f"azure-ai-ml: {first}", None, shown, 1, 1)]
    issues = []
    for error in report.get("errors", []):
        file, line = shown, 1
        match = _LOCATION.match(str(error.get("location", "")))
        if match:
            from mlops.config import display_path

            file, line = display_path(Path(match["file"])), int(match["line"])
        issues.append(
            Issue(
                str(error.get("path", "")),
                f"azure-ai-ml: {error.get('message', '')}",
                "https://aka.ms/ml-cli-v2-job-pipeline-yaml-reference",
                file,
                line,
                1,
            )
        )
    return issues


def _embedded_report(text: str) -> dict[str, Any] | None:
    """The JSON report the SDK embeds in its validation messages."""
    start = text.find('{\n  "result"')
    if start < 0:
        start = text.find("{")
    if start < 0:
        return None
    try:
        report, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return None
    return report if isinstance(report, dict) and "errors" in report else None


def _quiet_sdk() -> None:
    """The SDK announces its experimental classes as warnings; that is noise in our output."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("azure."):
            logging.getLogger(name).setLevel(logging.ERROR)
