"""`mlops deploy`, `mlops endpoints`, `mlops serve`, `mlops smoke`: the model on this machine."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, OutputOption, session


class LocalEnv(StrEnum):
    local = "local"


EnvOption = Annotated[LocalEnv, typer.Option("--env", "-e", help="Where: local (this machine).")]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="NAME, NAME:VERSION or NAME@ALIAS. Default: the champion of model.name.",
        show_default=False,
    ),
]

endpoints_app = typer.Typer(no_args_is_help=True, help="Local endpoints and their health.")


def deploy(
    ctx: typer.Context,
    env: EnvOption = LocalEnv.local,
    model: ModelOption = None,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the local endpoint.")] = False,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Serve a registered model locally in azureml-inference-server-http, on 127.0.0.1.

    The model files are laid out as Azure ML lays them out (AZUREML_MODEL_DIR) and the
    server is the one Azure ML online endpoints run. A new version starts beside the old
    one, which stops only once the new one is healthy.

    [bold]Examples[/bold]

      mlops deploy --env local

      mlops deploy --env local --model diagnosis:1

      mlops deploy --env local --stop
    """
    from mlops.services import deploy as service

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    if stop:
        stopped = service.stop_local(loaded)
        if current.json:
            _output.emit_json({"ok": True, "stopped": stopped.to_dict() if stopped else None})
        elif stopped is None:
            _output.stderr().print("no local endpoint was running")
        else:
            _output.success(f"stopped endpoint {stopped.name} ({stopped.model}:{stopped.version})")
        return
    progress = (lambda m: None) if current.json else (lambda m: _output.stderr().print(f"  {m}"))
    endpoint, started = service.deploy_local(loaded, model, progress=progress)
    if current.json:
        _output.emit_json({"ok": True, **endpoint.to_dict(), "already_serving": not started})
        return
    verb = "serving" if started else "already serving"
    _output.success(f"{verb} {endpoint.model}:{endpoint.version} at {endpoint.url}")
    _output.stderr().print(f"  swagger: {endpoint.swagger}\n  log: {endpoint.log}")


@endpoints_app.command(name="list")
def list_endpoints(
    ctx: typer.Context, config: ConfigOption = None, output: OutputOption = None
) -> None:
    """List local endpoints with their health: healthy, unhealthy or crashed.

    [bold]Examples[/bold]

      mlops endpoints list --output json
    """
    from rich.markup import escape
    from rich.table import Table

    from mlops.services import deploy as service

    current = session(ctx, config=config, output=output)
    found = service.endpoint_statuses(current.load())
    if current.json:
        _output.emit_json([{**e.to_dict(), "status": status} for e, status in found])
        return
    if not found:
        _output.stderr().print("no local endpoints: start one with `mlops deploy --env local`")
        return
    table = Table()
    for column in ("endpoint", "status", "model", "url", "pid", "started", "log"):
        table.add_column(column, overflow="fold")
    for endpoint, status in found:
        style = {"healthy": "green", "unhealthy": "yellow"}.get(status, "red")
        table.add_row(
            escape(endpoint.name),
            f"[{style}]{status}[/{style}]",
            escape(f"{endpoint.model}:{endpoint.version}"),
            endpoint.url,
            str(endpoint.pid),
            endpoint.started,
            escape(endpoint.log),
        )
    _output.stdout().print(table)


def smoke(
    ctx: typer.Context,
    env: EnvOption = LocalEnv.local,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Send the sample request(s) named in mlops.yaml to the local endpoint.

    Checks the status code, the answer against the output schema the endpoint publishes
    (swagger.json) and one answer per row; prints latency. Exit 1 on any mismatch.

    [bold]Examples[/bold]

      mlops smoke --env local
    """
    from mlops.services import deploy as service

    current = session(ctx, config=config, output=output)
    result = service.smoke_local(current.load())
    if current.json:
        _output.emit_json(result.to_dict())
    else:
        _print_smoke(result)
    if not result.ok:
        raise typer.Exit(1)


def _print_smoke(result) -> None:
    from rich.markup import escape

    console = _output.stderr()
    for check in result.checks:
        mark = "[green]✓[/green]" if check["ok"] else "[red]✗[/red]"
        latency = check["latency_ms"]
        console.print(
            f"{mark} {escape(check['sample'])}: {check['status']}, latency median"
            f" {latency['median']} ms, max {latency['max']} ms"
        )
        for problem in check["problems"]:
            console.print(f"    {escape(problem)}")


def serve(
    ctx: typer.Context,
    model: ModelOption = None,
    port: Annotated[int, typer.Option("--port", "-p", help="Port on 127.0.0.1.")] = 5001,
    config: ConfigOption = None,
) -> None:
    """Run the local inference server in the foreground (Ctrl-C stops it).

    The same server, model layout and scoring script as `mlops deploy --env local`.

    [bold]Examples[/bold]

      mlops serve --model diagnosis@champion --port 5001
    """
    from mlops.services import deploy as service

    loaded = session(ctx, config=config).load()
    code = service.serve_foreground(
        loaded, model, port, progress=lambda m: _output.stderr().print(f"  {m}")
    )
    if code:
        raise typer.Exit(1)


def package(
    ctx: typer.Context,
    model: ModelOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="New folder for the build context. Default: .mlops/packages/NAME-VERSION.",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Write a container build context for a registered model, as Azure ML would build it.

    Dockerfile on Azure ML's inference base image, the model's conda environment with the
    inference server, the scoring code and the model under AZUREML_MODEL_DIR.

    [bold]Examples[/bold]

      mlops package --model diagnosis@champion --out build/diagnosis

      docker build -t diagnosis:2 build/diagnosis && docker run -p 5001:5001 diagnosis:2
    """
    from mlops.services.package import package as build_context

    current = session(ctx, config=config, output=output)
    built = build_context(current.load(), model, out)
    if current.json:
        _output.emit_json(
            {"ok": True, "folder": str(built.folder), "image": built.image, "files": built.files}
        )
        return
    _output.success(f"wrote the build context of {built.image} to {built.folder}")
    _output.stderr().print(
        f"  docker build -t {built.image} {built.folder}\n"
        f"  docker run --rm -p 5001:5001 {built.image}\n"
        "  curl -H 'Content-Type: application/json' -d @request.json"
        " http://127.0.0.1:5001/score"
    )
