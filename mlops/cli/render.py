"""`mlops render`: derive infra/ from mlops.yaml."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, OutputOption, session


def render(
    ctx: typer.Context,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Write nothing; exit 1 and name the files that differ from what would be"
            " rendered (for CI).",
        ),
    ] = False,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Render infra/<env>/main.json and its parameters, one ARM template per environment.

    infra/shared/ holds what the environments share (the Azure ML registry). Rendered
    files are committed and reviewed; never edit them by hand: change mlops.yaml and
    render again.

    [bold]Examples[/bold]

      mlops render

      mlops render --check          in CI: fail when a committed file is stale
    """
    from mlops.services import render as service

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    if check:
        drift = service.check(loaded)
        if current.json:
            _output.emit_json(
                {
                    "ok": not drift.stale,
                    "changed": drift.changed,
                    "missing": drift.missing,
                    "extra": drift.extra,
                }
            )
        elif drift.stale:
            err = _output.stderr()
            err.print("[red]error:[/red] rendered files are stale:")
            for label, paths in (
                ("differs", drift.changed),
                ("missing", drift.missing),
                ("no longer rendered", drift.extra),
            ):
                for path in paths:
                    err.print(f"  {path}  ({label})")
            err.print("[dim]hint: run `mlops render` and commit the result[/dim]")
        else:
            _output.success("rendered files are up to date")
        if drift.stale:
            raise typer.Exit(1)
        return
    result = service.write(loaded)
    if current.json:
        _output.emit_json(
            {"written": result.written, "unchanged": result.unchanged, "removed": result.removed}
        )
        return
    err = _output.stderr()
    for path in result.written:
        err.print(f"  [green]wrote[/green]   {path}")
    for path in result.removed:
        err.print(f"  [yellow]removed[/yellow] {path}")
    _output.success(
        f"rendered {len(result.written) + len(result.unchanged)} files"
        f" ({len(result.written)} changed, {len(result.removed)} removed)"
    )
