"""The one output sink: results to stdout, messages and errors to stderr, JSON for scripts."""

from __future__ import annotations

import json
import os
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from mlops.errors import Issue, MlopsError


@cache
def stderr() -> Console:
    """Messages for people; rich drops colour when not a terminal or when NO_COLOR is set."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


@cache
def stdout() -> Console:
    """Results for people (tables); scripts use --output json instead.

    Not a terminal (a pipeline log, a file): tables get room instead of rich's 80 columns.
    """
    from rich.console import Console

    wide = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160
    return Console(highlight=False, soft_wrap=True, width=wide)


def emit_json(data: Any) -> None:
    """Write `data` as JSON on stdout, for scripts."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def emit_text(text: str) -> None:
    """Write a result (not a message) on stdout."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def success(message: str) -> None:
    from rich.markup import escape

    stderr().print(f"[green]✓[/green] {escape(message)}")


def issues(items: list[Issue]) -> None:
    """Print file issues compiler-style (file:line:col: severity: path: message)."""
    from rich.markup import escape

    console = stderr()
    for issue in items:
        colour = "red" if issue.severity == "error" else "yellow"
        where = f"{issue.location}: " if issue.file else ""
        path = f"{issue.path}: " if issue.path else ""
        console.print(
            f"[bold]{escape(where)}[/bold][{colour}]{issue.severity}:[/{colour}] "
            f"{escape(path)}{escape(issue.message)}"
        )
        if issue.hint:
            console.print(f"    [dim]hint:[/dim] {escape(issue.hint)}")
        _pipeline_annotation(issue)


def error(err: MlopsError, *, as_json: bool) -> None:
    """Report `err`: as JSON on stdout when scripting, else readable on stderr."""
    from rich.markup import escape

    from mlops.errors import BadInputError

    if as_json:
        emit_json({"ok": False, **err.to_dict()})
        return
    if isinstance(err, BadInputError):
        issues(err.issues)
    console = stderr()
    console.print(f"[bold red]error:[/bold red] {escape(err.message)}")
    if err.hint:
        for line in err.hint.splitlines():
            console.print(f"  {escape(line)}")


def _pipeline_annotation(issue: Issue) -> None:
    """Inline annotations in Azure DevOps and GitHub Actions logs, where they apply."""
    if issue.file is None:
        return
    kind = "error" if issue.severity == "error" else "warning"
    text = f"{issue.path}: {issue.message}" if issue.path else issue.message
    if os.environ.get("TF_BUILD"):
        # logging-command escapes, so a hostile value cannot end the command or start another
        # (https://learn.microsoft.com/azure/devops/pipelines/scripts/logging-commands)
        file, text = _escape(issue.file, _ADO_PROPERTY), _escape(text, _ADO_MESSAGE)
        sys.stderr.write(
            f"##vso[task.logissue type={kind};sourcepath={file};"
            f"linenumber={issue.line or 1};columnnumber={issue.column or 1}]{text}\n"
        )
    elif os.environ.get("GITHUB_ACTIONS") == "true":
        # workflow-command escapes (https://github.com/actions/toolkit, command.ts)
        file, text = _escape(issue.file, _GH_PROPERTY), _escape(text, _GH_MESSAGE)
        sys.stderr.write(
            f"::{kind} file={file},line={issue.line or 1},col={issue.column or 1}::{text}\n"
        )


_ADO_MESSAGE = {"%": "%AZP25", "\r": "%0D", "\n": "%0A"}
_ADO_PROPERTY = {**_ADO_MESSAGE, "]": "%5D", ";": "%3B"}
_GH_MESSAGE = {"%": "%25", "\r": "%0D", "\n": "%0A"}
_GH_PROPERTY = {**_GH_MESSAGE, ":": "%3A", ",": "%2C"}


def _escape(text: str, table: dict[str, str]) -> str:
    return "".join(table.get(char, char) for char in text)


def timestamp(ms: int) -> str:
    """An MLflow time (milliseconds since the epoch) as UTC, the same on every machine."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
