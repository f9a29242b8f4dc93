"""`mlops runs`: past local pipeline runs, their steps and metrics, from MLflow."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, OutputOption, session

app = typer.Typer(no_args_is_help=True, help="Past local pipeline runs, from the MLflow store.")


@app.command(name="list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs.")] = 20,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """List the latest pipeline runs, newest first.

    [bold]Examples[/bold]

      mlops runs list -n 5
    """
    from rich.markup import escape
    from rich.table import Table

    tracking = _tracking(ctx, config, output)
    runs = tracking.pipeline_runs(limit=limit) if tracking else []
    if session(ctx).json:
        _output.emit_json([_run_dict(r) for r in runs])
        return
    if not runs:
        _output.stderr().print("no runs yet: start one with `mlops run`")
        return
    table = Table()
    for column in ("run", "status", "started", "duration", "pipeline"):
        table.add_column(column, no_wrap=column != "pipeline")
    for run in runs:
        table.add_row(
            run.run_id,
            run.status.lower(),
            _output.timestamp(run.start_ms),
            _took(run.duration),
            escape(run.tags.get("mlops.pipeline", "")),
        )
    _output.stdout().print(table)


@app.command()
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="Run id, or a unique prefix of it.")],
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Show one run: its steps, how each ended, and the metrics they logged.

    [bold]Examples[/bold]

      mlops runs show 20261126-1530
    """
    from rich.markup import escape
    from rich.table import Table

    from mlops.errors import NotFoundError

    tracking = _tracking(ctx, config, output)
    found = tracking.pipeline_run(run_id) if tracking else None
    if found is None:
        raise NotFoundError(
            f"no single run matches '{run_id}'",
            hint="list runs with `mlops runs list`, and give a longer prefix if several match",
        )
    parent, steps = found
    if session(ctx).json:
        _output.emit_json({**_run_dict(parent), "steps": [_run_dict(s) for s in steps]})
        return
    console = _output.stdout()
    started = _output.timestamp(parent.start_ms)
    console.print(
        f"run {parent.run_id}: {parent.status.lower()}, started {started},"
        f" took {_took(parent.duration)}; pipeline {escape(parent.tags.get('mlops.pipeline', ''))}"
    )
    if parent.params:
        console.print("inputs: " + ", ".join(f"{k}={v}" for k, v in sorted(parent.params.items())))
    if "mlops.ended" in parent.tags:
        console.print(f"ended: {escape(parent.tags['mlops.ended'])}")
    if "mlops.gate.decision" in parent.tags:
        version = parent.tags.get("mlops.gate.registered_version", "None")
        forced = parent.tags.get("mlops.gate.forced") == "True"
        console.print(
            f"gate: {escape(parent.tags['mlops.gate.decision'])}:"
            f" {escape(parent.tags.get('mlops.gate.reason', ''))}"
        )
        registered = "none" if version == "None" else f"version {version}"
        console.print(f"registered: {registered}{' (by force)' if forced else ''}")
    table = Table()
    for column in ("step", "status", "duration", "metrics"):
        table.add_column(column)
    for step in steps:
        status = step.status.lower()
        if "mlops.reused_from" in step.tags:
            status = f"reused from {step.tags['mlops.reused_from']}"
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(step.metrics.items()))
        table.add_row(escape(step.name), status, _took(step.duration), escape(metrics))
    console.print(table)


def _tracking(ctx: typer.Context, config, output):
    from mlops.services.run import state_dir

    loaded = session(ctx, config=config, output=output).load()
    state = state_dir(loaded)
    if not (state / "mlflow.db").exists():
        return None
    from mlops.backends.local.tracking import Tracking

    return Tracking(state)


def _run_dict(run) -> dict:
    return {
        "run_id": run.run_id,
        "name": run.name,
        "status": run.status.lower(),
        "started": _output.timestamp(run.start_ms),
        "duration_s": run.duration,
        "tags": run.tags,
        "gate": _gate(run.tags),
        "params": run.params,
        "metrics": run.metrics,
    }


def _gate(tags: dict[str, str]) -> dict | None:
    """The gate's outcome that `mlops run` recorded on the run, typed as `run -o json` has it."""
    if "mlops.gate.decision" not in tags:
        return None
    version = tags.get("mlops.gate.registered_version", "None")
    return {
        "decision": tags["mlops.gate.decision"],
        "reason": tags.get("mlops.gate.reason"),
        "registered_version": None if version == "None" else version,
        "forced": tags.get("mlops.gate.forced") == "True",
    }


def _took(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}s"
