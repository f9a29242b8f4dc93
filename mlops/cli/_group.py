"""The root command group: maps library errors to exit codes in one place."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperGroup

from mlops.errors import BadInputError, MlopsError

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C); typer maps KeyboardInterrupt to it
EXIT_TERMINATED = 143  # SIGTERM (what a CI cancel or `kill` sends): 128 + 15


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C (running steps are stopped, the run is recorded
    as KILLED), then exit 143. A BaseException, so no `except Exception` swallows it."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While a command runs, SIGTERM raises `Terminated` in the main thread (by default it
    would end the process at once, leaving steps and servers behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(err: MlopsError) -> int:
    """0 ok, 1 the operation failed, 2 bad input or usage."""
    return EXIT_BAD_INPUT if isinstance(err, BadInputError) else EXIT_FAILED


class MlopsGroup(TyperGroup):
    """Reports errors without a traceback (unless MLOPS_DEBUG=1) and exits with their code."""

    def invoke(self, ctx: typer.Context) -> Any:
        from mlops.cli import _output
        from mlops.cli._options import Session

        try:
            with _sigterm_unwinds():
                return super().invoke(ctx)
        except Terminated:
            _output.stderr().print("terminated (SIGTERM)")
            raise typer.Exit(EXIT_TERMINATED) from None
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
