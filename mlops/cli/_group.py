"""The root command group: maps library errors to exit codes in one place."""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup

from mlops.errors import BadInputError, MlopsError

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def exit_code(err: MlopsError) -> int:
    """0 ok, 1 the operation failed, 2 bad input or usage."""
    return EXIT_BAD_INPUT if isinstance(err, BadInputError) else EXIT_FAILED


class MlopsGroup(TyperGroup):
    """Reports errors without a traceback (unless MLOPS_DEBUG=1) and exits with their code."""

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
        except Exception as exc:
            # typer's own exits and usage errors carry an exit code: let typer report them
            if os.environ.get("MLOPS_DEBUG") == "1" or hasattr(exc, "exit_code"):
                raise
            session = ctx.find_object(Session) or Session()
            bug = MlopsError(
                f"unexpected {type(exc).__name__}: {exc}",
                hint="this is a bug in mlops: rerun with MLOPS_DEBUG=1 and report the traceback",
            )
            _output.error(bug, as_json=session.json)
            raise typer.Exit(EXIT_FAILED) from None
