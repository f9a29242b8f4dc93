"""`mlops env`: the environments pipeline steps run in, built once with uv and cached."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import OutputOption, session

app = typer.Typer(
    no_args_is_help=True,
    help="""Step environments: built once per set of packages with uv, shared by every project.

The cache is $MLOPS_CACHE_DIR, else $XDG_CACHE_HOME/mlops, else ~/.cache/mlops.
""",
)

CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        envvar="MLOPS_CACHE_DIR",
        help="Cache folder. Default: $XDG_CACHE_HOME/mlops or ~/.cache/mlops.",
        file_okay=False,
        show_default=False,
    ),
]


@app.command(name="list")
def list_(ctx: typer.Context, cache_dir: CacheOption = None, output: OutputOption = None) -> None:
    """List the built environments, the most recently used first.

    [bold]Examples[/bold]

      mlops env list

      mlops env list -o json
    """
    from mlops.environments.cache import list_envs

    records = list_envs(cache_dir)
    if session(ctx, output=output).json:
        _output.emit_json([r.to_dict() for r in records])
        return
    if not records:
        _output.stderr().print("no environments yet: `mlops env build` builds those of pipelines/")
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    for column in ("env", "kind", "python", "size", "last used", "source", "used by"):
        table.add_column(column, no_wrap=column in ("env", "size", "last used"))
    for r in records:
        table.add_row(
            r.digest[:12],
            r.kind,
            r.python + (f" (asked {r.python_requested})" if r.python_requested else ""),
            _size(r.size),
            _output.timestamp(int(r.last_used * 1000)),
            escape(r.source),
            escape(", ".join(r.used_by)),
        )
    _output.stdout().print(table)


@app.command()
def build(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Pipeline or component files, or folders. Default: pipelines/."),
    ] = None,
    cache_dir: CacheOption = None,
    output: OutputOption = None,
) -> None:
    """Build the environment of every component the files use, ahead of `mlops run`.

    An environment already built is reused; two builds of one environment at once take turns.

    [bold]Examples[/bold]

      mlops env build

      mlops env build pipelines/components/train.yml -o json
    """
    from rich.markup import escape

    from mlops.environments.builder import ensure
    from mlops.environments.discover import declared_environments

    as_json = session(ctx, output=output).json
    console = _output.stderr()
    built = []
    for declared in declared_environments(paths or [Path("pipelines")]):
        users = ", ".join(declared.used_by)
        bin_dir = ensure(
            declared.spec,
            cache_dir=cache_dir,
            used_by=declared.used_by,
            on_progress=lambda message: console.print(escape(message)),
        )
        built.append(
            {
                **declared.spec.to_dict(),
                "digest": declared.spec.digest if bin_dir else None,
                "bin": str(bin_dir) if bin_dir else None,
                "used_by": declared.used_by,
            }
        )
        if not as_json:
            where = f"environment {declared.spec.digest[:12]}" if bin_dir else "current environment"
            _output.success(f"{users}: {where}")
    if as_json:
        _output.emit_json(built)
    elif not built:
        console.print("no command components found")


@app.command()
def prune(
    ctx: typer.Context,
    older_than: Annotated[
        float | None,
        typer.Option(
            "--older-than", min=0, help="Remove environments unused for DAYS.", metavar="DAYS"
        ),
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="Remove every environment.")] = False,
    cache_dir: CacheOption = None,
    output: OutputOption = None,
) -> None:
    """Remove environments, and what interrupted builds left; print the space freed.

    With neither option, only leftovers of interrupted builds go. An environment being built
    is left alone. An environment a running step uses should not be pruned: its step fails.

    [bold]Examples[/bold]

      mlops env prune --older-than 30

      mlops env prune --all -o json
    """
    from rich.markup import escape

    from mlops.environments.cache import prune as prune_cache

    result = prune_cache(cache_dir, older_than_days=older_than, everything=everything)
    if session(ctx, output=output).json:
        _output.emit_json(
            {
                "removed": [r.to_dict() for r in result.removed],
                "leftovers": [str(p) for p in result.leftovers],
                "busy": result.busy,
                "freed": result.freed,
            }
        )
        return
    console = _output.stderr()
    for record in result.removed:
        console.print(
            f"removed {record.digest[:12]} ({escape(record.source)}, {_size(record.size)})"
        )
    for busy in result.busy:
        console.print(f"left {escape(busy[:12])}: being built")
    _output.success(
        f"freed {_size(result.freed)}: {len(result.removed)} environment(s),"
        f" {len(result.leftovers)} leftover(s)"
    )


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"
