"""`mlops monitor`: drift and data quality of what the local endpoint collected."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, OutputOption, session

#: the exit code when a signal crossed its threshold (as `plan --detailed-exitcode` uses 3)
EXIT_DRIFTED = 3


def monitor(
    ctx: typer.Context,
    env: Annotated[
        str, typer.Option("--env", "-e", help="local: what the local endpoint collected.")
    ] = "local",
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="NAME:VERSION whose collected data to check. Default: the version the local"
            " endpoint serves (else the champion).",
            show_default=False,
        ),
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option(
            "--report-dir",
            file_okay=False,
            help="Where report.html and report.json go. Default:"
            " <state dir>/monitoring/<endpoint>/<model>-<version>.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Compare the inputs and outputs the local endpoint collected with the training data.

    Computes the signals of mlops.yaml's monitoring: section (data drift per feature,
    prediction drift, data quality) as Azure ML's monitor names them, against the data the
    served version was trained on (its lineage tags), and writes an HTML report with plots
    and a JSON one. Collection is on with monitoring.collection: true (then deploy again).
    On Azure, the monitor is an Azure ML schedule that computes the same signals.

    Exit codes: 0 no signal crossed its threshold, 3 some did, 2 bad input (no collected
    data, no baseline), 1 failure.

    [bold]Examples[/bold]

      mlops monitor --env local

      mlops monitor --env local --output json
    """
    from mlops.errors import BadInputError
    from mlops.monitoring.local import monitor_local

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    if env != "local":
        where = "an Azure environment" if env in loaded.config.environments.azure else "unknown"
        raise BadInputError(
            f"--env {env}: {where}; `mlops monitor` computes the signals locally (--env local)",
            hint="on Azure, Azure ML's monitor schedule computes them on its schedule; see"
            " the endpoint's Monitoring tab in Azure ML studio",
        )
    result = monitor_local(loaded, model, report_dir)
    if current.json:
        _output.emit_json(result.to_dict())
    else:
        _print(result)
    if result.drifted:
        raise typer.Exit(EXIT_DRIFTED)


def _print(result) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{result.model} on {result.endpoint}: signals", title_justify="left")
    for column in ("signal", "feature", "metric", "value", "threshold", "drifted"):
        table.add_column(column, justify="right" if column in ("value", "threshold") else "left")
    shown = [m for m in result.measures if m.signal != "data_quality" or m.drifted]
    for m in sorted(shown, key=lambda m: (not m.drifted, m.signal, m.column)):
        table.add_row(
            m.signal,
            escape(m.column),
            m.metric,
            f"{m.value:.4f}",
            f"{m.threshold:g}",
            "[red]yes[/red]" if m.drifted else "no",
        )
    _output.stdout().print(table)
    console = _output.stderr()
    quality = [m for m in result.measures if m.signal == "data_quality"]
    if quality and not any(m.drifted for m in quality):
        console.print(f"data quality: {len(quality)} measures within their thresholds")
    for note in result.notes:
        console.print(f"note: {escape(note)}")
    fired = sorted({m.column for m in result.measures if m.drifted})
    if fired:
        console.print(f"[red]drift[/red] in {escape(', '.join(fired))}")
    else:
        _output.success("no signal crossed its threshold")
    console.print(f"report: {escape(result.reports['html'])}")
