"""`mlops up`: the main job: the whole loop on this machine, then a summary."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, EnvModeOption, OutputOption, session

LINEAGE = ("git_commit", "git_branch", "dataset_name", "dataset_version", "build_id")


def up(
    ctx: typer.Context,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every pipeline step, even unchanged ones.")
    ] = False,
    env_mode: EnvModeOption = None,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Train, gate, register, deploy locally and smoke-test, then summarise.

    Runs model.pipeline from mlops.yaml (unchanged steps are reused), deploys the champion
    in azureml-inference-server-http on 127.0.0.1 (or keeps it when it already serves that
    version) and sends the sample request. Each step runs in the environment its component
    declares and the server in deployment.environment, each built once with uv and cached
    (--env-mode current: all in this CLI's environment). Exit 1 when any stage fails.

    [bold]Examples[/bold]

      mlops up

      mlops up --env-mode current

      mlops up --output json
    """
    from mlops.cli._live import LiveView
    from mlops.services.up import up as run_up

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    views: list[LiveView] = []  # made once the plan names the steps

    def on_plan(steps: list[str]) -> None:
        if not current.json:
            views.append(LiveView(steps, stream_logs=False).__enter__())

    def on_event(event) -> None:
        for view in views:
            view.on_event(event)

    def progress(message: str) -> None:
        if not current.json:
            _output.stderr().print(f"  {message}")

    try:
        summary = run_up(
            loaded,
            use_cache=not no_cache,
            mode=env_mode,
            on_plan=on_plan,
            on_event=on_event,
            progress=progress,
        )
    finally:
        for view in views:
            view.close()
    if current.json:
        _output.emit_json(summary.to_dict())
    else:
        _print(summary)
    if not summary.ok:
        raise typer.Exit(1)


def _print(summary) -> None:
    from rich.markup import escape
    from rich.table import Table

    from mlops.cli.run import _print_summary

    if summary.run is not None and not summary.run.ok:
        _print_summary(summary.run)
        return
    console = _output.stdout()
    table = Table(title="mlops up", title_justify="left")
    for column in ("stage", "seconds", "what happened"):
        table.add_column(column, overflow="fold")
    for step in summary.steps:
        table.add_row(step["step"], f"{step['seconds']:.1f}", escape(step["detail"]))
    table.add_row("total", f"{sum(s['seconds'] for s in summary.steps):.1f}", "")
    console.print(table)
    if summary.gate:
        decision, reason = escape(summary.gate["decision"]), escape(summary.gate["reason"])
        console.print(f"gate: [bold]{decision}[/bold]: {reason}")
    model = summary.model
    if model is not None:
        lineage = ", ".join(f"{k}={_short(k, model.tags[k])}" for k in LINEAGE if k in model.tags)
        console.print(f"serving {escape(model.name)}:{model.version} (champion); {escape(lineage)}")
    if summary.endpoint is not None:
        console.print(f"endpoint: {summary.endpoint.url}  (swagger: {summary.endpoint.swagger})")
    if summary.smoke is not None and not summary.smoke.ok:
        from mlops.cli.deploy import _print_smoke

        _print_smoke(summary.smoke)


def _short(key: str, value: str) -> str:
    """Hashes shortened as git shortens them; names in full."""
    return value[:12] if key in ("git_commit", "dataset_version") else value
