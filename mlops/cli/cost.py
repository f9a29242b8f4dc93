"""`mlops cost`: the monthly estimate, budgets, and endpoints asleep off hours."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, OutputOption, session

app = typer.Typer(
    no_args_is_help=True,
    help="Cost controls: the monthly estimate, budgets, endpoints asleep off hours.",
)
EnvOption = Annotated[str, typer.Option("--env", "-e", help="An Azure environment.")]


@app.command()
def estimate(
    ctx: typer.Context,
    retail_prices: Annotated[
        list[Path] | None,
        typer.Option(
            "--retail-prices",
            help="Azure Retail Prices API answers (JSON, as curl saves them) to price with,"
            " instead of the vendored table.",
            dir_okay=False,
            exists=True,
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """The monthly cost drivers the rendered platform runs, with a rough estimate.

    VM sizes x min/max nodes of the compute clusters, endpoint instances, AKS node pools and
    build agents, priced from the price table vendored with mlops, or from Retail Prices
    API answers you saved (its source, region and date are printed); sizes with no price are
    named, not guessed.

    [bold]Examples[/bold]

      mlops cost estimate

      mlops cost estimate --output json
    """
    import json

    from mlops.cost.estimate import estimate as report
    from mlops.cost.estimate import lines
    from mlops.cost.estimate import retail_prices as table_from
    from mlops.errors import BadInputError

    current = session(ctx, config=config, output=output)
    config_ = current.load().config
    table = None
    if retail_prices:
        answers = []
        for path in retail_prices:
            try:
                answers.append(json.loads(path.read_text(encoding="utf-8")))
            except ValueError as exc:
                raise BadInputError(
                    f"--retail-prices {path}: not JSON ({exc})",
                    hint="save the API's answer as it comes: curl -o FILE"
                    " 'https://prices.azure.com/api/retail/prices?$filter=...'",
                ) from None
        table = table_from(answers, config_.azure.location)
    result = report(config_, table)
    if current.json:
        _output.emit_json(result)
        return
    _output.emit_text("\n".join(lines(result)))


@app.command()
def budgets(
    ctx: typer.Context,
    apply: Annotated[
        bool, typer.Option("--apply", help="Write the budgets that differ (else only show).")
    ] = False,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Azure budgets per environment (cost.budgets), compared with Azure; --apply writes them.

    [bold]Examples[/bold]

      mlops cost budgets

      mlops cost budgets --apply
    """
    from mlops.cli._azure import signed_in_clients
    from mlops.services import budgets as service

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    specs = service.environment_budgets(loaded)
    if not specs:
        _output.stderr().print("no budgets in mlops.yaml (cost.budgets)")
        return
    clients = signed_in_clients(loaded)
    changes = service.plan_all(loaded, clients)
    written = service.apply_all(loaded, clients) if apply else []
    if current.json:
        _output.emit_json(
            {
                "changes": [
                    {"action": c.action, "name": c.name, "address": c.resource_id} for c in changes
                ],
                "written": written,
            }
        )
        return
    for c in changes:
        detail = ", ".join(f"{p.path} {p.before} -> {p.after}" for p in c.properties)
        shown = detail if c.action == "modify" else ""
        _output.emit_text(f"{c.action:<10} {c.name}  {shown}".rstrip())
    if apply:
        _output.success(f"{len(written)} budget(s) written")


@app.command()
def sleep(
    ctx: typer.Context, env: EnvOption, config: ConfigOption = None, output: OutputOption = None
) -> None:
    """Remove a non-production endpoint's deployments for the night (the endpoint stays).

    Managed online deployments cannot scale to zero, so sleep deletes them and tags the
    endpoint with the model it served; `mlops cost wake` deploys it again.

    [bold]Examples[/bold]

      mlops cost sleep --env test
    """
    from mlops.cli._azure import progress, signed_in_clients
    from mlops.services import off_hours

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    off_hours.check_env(loaded, env)
    slept = off_hours.sleep(loaded, env, signed_in_clients(loaded), progress(current))
    if current.json:
        _output.emit_json(
            {"env": env, "endpoint": slept.endpoint, "model": slept.model, "removed": slept.removed}
        )
        return
    if slept.model is None:
        _output.success(f"{slept.endpoint} was already asleep")
    else:
        _output.success(f"{slept.endpoint} asleep; it served {slept.model}")


@app.command()
def wake(
    ctx: typer.Context, env: EnvOption, config: ConfigOption = None, output: OutputOption = None
) -> None:
    """Deploy again the model a sleeping endpoint served (blue/green, smoke-tested).

    [bold]Examples[/bold]

      mlops cost wake --env test
    """
    from mlops.cli._azure import progress, signed_in_clients
    from mlops.services import off_hours

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    off_hours.check_env(loaded, env)
    model = off_hours.wake(loaded, env, signed_in_clients(loaded), progress(current))
    if current.json:
        _output.emit_json({"env": env, "model": model})
        return
    _output.success(f"{env} serves {model} again" if model else f"{env} was not asleep")
