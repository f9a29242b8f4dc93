"""The root command group: maps library errors to exit codes in one place."""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup

from mlops.errors import ConfigError, MlopsError, UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def exit_code(err: MlopsError) -> int:
    """0 ok, 1 the operation failed, 2 bad input or usage."""
    return EXIT_BAD_INPUT if isinstance(err, ConfigError | UsageError) else EXIT_FAILED


class MlopsGroup(TyperGroup):
    """Reports `MlopsError`s without a traceback (unless MLOPS_DEBUG=1) and exits with its code."""

    def invoke(self, ctx: typer.Context) -> Any:
        from mlops.cli import _output
        from mlops.cli._options import Session

        try:
            return super().invoke(ctx)
        except MlopsError as err:
            if os.environ.get("MLOPS_DEBUG") == "1":
                raise
            session = ctx.find_object(Session) or Session()
            _output.error(err, as_json=session.json)
            raise typer.Exit(exit_code(err)) from None
