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


_JSON_KEY = "mlops.output_json"


def _wants_json(args: list[str]) -> bool:
    """Whether the command line asks for --output json, read before (or without) parsing."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in ("-o", "--output") and i + 1 < len(args) and args[i + 1].lower() == "json":
            return True
        if arg.lower() in ("--output=json", "-ojson", "-o=json"):
            return True
    return False


def _usage_json(exc: BaseException) -> None:
    """A usage error (exit 2) as the JSON error object every command prints under
    --output json; typer still prints it for people on stderr."""
    if getattr(exc, "exit_code", None) != EXIT_BAD_INPUT or not hasattr(exc, "format_message"):
        return
    from mlops.cli import _output

    where = getattr(getattr(exc, "ctx", None), "command_path", "mlops")
    _output.emit_json(
        {
            "ok": False,
            "error": "UsageError",
            "message": exc.format_message(),
            "hint": f"see `{where} -h`",
        }
    )


class MlopsGroup(TyperGroup):
    """Reports errors without a traceback (unless MLOPS_DEBUG=1) and exits with their code;
    help shows plain metavars (`mlops.cli._metavars`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from mlops.cli._metavars import plain_metavars

        super().__init__(*args, **kwargs)
        plain_metavars(self, self.context_settings.get("help_option_names", ["--help"]))

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> typer.Context:
        wants_json = _wants_json(args)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except Exception as exc:  # `mlops --bogus -o json`: the root's own usage error
            if wants_json:
                _usage_json(exc)
            raise
        ctx.meta[_JSON_KEY] = wants_json
        return ctx

    def get_params(self, ctx: typer.Context) -> list[Any]:
        from mlops.cli._metavars import plain_params

        return plain_params(super().get_params(ctx), ctx)

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
            # (on stderr); scripts asking for JSON get the error as JSON on stdout too
            if hasattr(exc, "exit_code"):
                session = ctx.find_object(Session)
                if ctx.meta.get(_JSON_KEY) or (session is not None and session.json):
                    _usage_json(exc)
                raise
            if os.environ.get("MLOPS_DEBUG") == "1":
                raise
            session = ctx.find_object(Session) or Session()
            bug = MlopsError(
                f"unexpected {type(exc).__name__}: {exc}",
                hint="this is a bug in mlops: rerun with MLOPS_DEBUG=1 and report the traceback",
            )
            _output.error(bug, as_json=session.json)
            raise typer.Exit(EXIT_FAILED) from None
