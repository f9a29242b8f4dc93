"""The `mlops` command line: wiring only; each command group lives in its own module."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops import __version__
from mlops.cli import config, deploy, env, infra, init, models, rbac, render, run, runs, up
from mlops.cli import cost as cost_cli
from mlops.cli import monitor as monitor_cli
from mlops.cli import retrain as retrain_cli
from mlops.cli import team as team_cli
from mlops.cli._group import MlopsGroup
from mlops.cli._options import (
    Output,
    RootConfigOption,
    RootOutputOption,
    Session,
    VerboseOption,
)

app = typer.Typer(
    name="mlops",
    cls=MlopsGroup,
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="""Azure-native MLOps: governed Azure ML platforms, and the whole loop on one machine.

Exit codes: 0 ok, 1 operation failed, 2 bad input or usage, 130 interrupted.

[bold]Examples[/bold]

  mlops config validate                check mlops.yaml

  mlops config show --output json      effective config, as JSON

  mlops -c other/mlops.yaml config show
""",
)
app.command(name="up")(up.up)
app.command(name="init")(init.init)
app.add_typer(config.app, name="config")
app.command(name="render")(render.render)
app.command(name="plan")(infra.plan)
app.command(name="provision")(infra.provision)
app.add_typer(rbac.app, name="rbac")
app.add_typer(team_cli.team_app, name="team")
app.add_typer(team_cli.teams_app, name="teams")
app.command(name="run")(run.run)
app.command(name="retrain-reason")(retrain_cli.retrain_reason)
app.add_typer(cost_cli.app, name="cost")
app.command(name="validate")(run.validate)
app.add_typer(runs.app, name="runs")
app.add_typer(env.app, name="env")
app.add_typer(models.app, name="models")
app.command(name="ui")(models.ui)
app.command(name="deploy")(deploy.deploy)
app.command(name="promote")(deploy.promote)
app.add_typer(deploy.endpoints_app, name="endpoints")
app.command(name="smoke")(deploy.smoke)
app.command(name="serve")(deploy.serve)
app.command(name="package")(deploy.package)
app.command(name="monitor")(monitor_cli.monitor)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlops {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: RootConfigOption = None,
    output: RootOutputOption = Output.table,
    verbose: VerboseOption = 0,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = Session(config_path=config, output=output, verbose=verbose)
    if verbose:
        import logging
        import sys

        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            stream=sys.stderr,
            format="%(levelname)s %(name)s: %(message)s",
        )


def main() -> None:
    """Console-script entry point."""
    app(prog_name="mlops")
