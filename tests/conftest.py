"""Shared fixtures: write a config into a temporary project and run the CLI in-process."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops.cli import app

REPO = Path(__file__).resolve().parents[1]


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run `mlops ARGS` in-process, as the console script would."""
    result = CliRunner().invoke(app, list(args), env=env, prog_name="mlops")
    exception = None if isinstance(result.exception, SystemExit) else result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr, exception)


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    return run_cli


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Write `text` (dedented) as mlops.yaml in a fresh project folder and cd into it."""
    monkeypatch.chdir(tmp_path)

    def write(text: str) -> Path:
        path = tmp_path / "mlops.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write
