"""`mlops deploy`, `mlops endpoints`, `mlops serve`, `mlops smoke`: the model on this machine."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, OutputOption, ServingEnvModeOption, session


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
    env: Annotated[
        str,
        typer.Option(
            "--env", "-e", help="local (this machine), or an Azure environment (test, prod...)."
        ),
    ] = "local",
    model: ModelOption = None,
    stop: Annotated[
        bool, typer.Option("--stop", help="Stop the local endpoint (--env local only).")
    ] = False,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            "-p",
            min=1,
            max=65535,
            help="Local: port on 127.0.0.1 (exit 1 when it is taken). Default: a free one.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Azure: print the endpoint and deployment YAML (Azure ML CLI v2) deploy would"
            " apply, and its traffic steps, reading Azure (signed in) but changing nothing.",
        ),
    ] = False,
    env_mode: ServingEnvModeOption = None,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Serve a model: locally in azureml-inference-server-http, or blue/green on Azure ML.

    Locally, the model files are laid out as Azure ML lays them out (AZUREML_MODEL_DIR) and
    the server is the one Azure ML online endpoints run, in deployment.environment (a
    curated environment's published pins: what the deployment's image holds); a new
    version starts beside the old one, which stops only once the new one is healthy.
    Deploys of one endpoint take turns; request bodies over deployment.max_request_bytes
    get 413.

    On Azure (--env test, --env prod): a managed online endpoint, or a Kubernetes one on
    the platform's AKS with deployment.target: kubernetes. The new deployment starts at 0%
    beside the serving one and answers the sample request directly; traffic then moves by
    deployment.traffic_steps with a health and smoke check after each; the old deployment
    goes at 100%. Any failure puts traffic back and removes the new deployment (exit 1).
    The model comes from the shared registry (`mlops promote` puts it there). --dry-run
    makes the same checks and reads (signed in) and prints what would be applied: colour,
    exact model and environment versions, traffic steps; it changes nothing.

    [bold]Examples[/bold]

      mlops deploy --env local --model diagnosis:1

      mlops deploy --env local --stop

      mlops deploy --env local --env-mode current

      mlops deploy --env test --model diagnosis:3

      mlops deploy --env prod --model diagnosis:3 --dry-run
    """
    from mlops.services import deploy as service

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    if env != "local":
        for given, flag, why in (
            (port, "--port", "Azure ML picks the endpoint's address"),
            (env_mode, "--env-mode", "Azure ML builds the deployment's environment"),
            # an Azure deployment is never stopped by a flag that also starts one
            (stop or None, "--stop", "an Azure endpoint is not stopped by mlops"),
        ):
            if given is not None:
                from mlops.errors import BadInputError

                raise BadInputError(f"{flag} is for --env local: {why}", hint=f"drop {flag}")
        _deploy_azure(current, loaded, env, model, dry_run)
        return
    if dry_run:
        from mlops.errors import BadInputError

        raise BadInputError(
            "--dry-run prints Azure ML YAML: it needs an Azure environment",
            hint="e.g. mlops deploy --env test --dry-run",
        )
    if stop:
        _stop_local(current, loaded)
        return
    progress = (lambda m: None) if current.json else (lambda m: _output.stderr().print(f"  {m}"))
    endpoint, started = service.deploy_local(
        loaded, model, port=port, mode=env_mode, progress=progress
    )
    if current.json:
        _output.emit_json({"ok": True, **endpoint.to_dict(), "already_serving": not started})
        return
    verb = "serving" if started else "already serving"
    _output.success(f"{verb} {endpoint.model}:{endpoint.version} at {endpoint.url}")
    _output.stderr().print(
        f"  environment: {endpoint.environment or service.CURRENT}\n"
        f"  swagger: {endpoint.swagger}\n  log: {endpoint.log}"
    )


def _stop_local(current, loaded) -> None:
    from mlops.backends.local.serving import STOPPED
    from mlops.services import deploy as service

    found = service.stop_local(loaded)
    if found is None:
        if current.json:
            _output.emit_json({"ok": True, "stopped": None, "status": None})
        else:
            _output.stderr().print("no local endpoint was running")
        return
    endpoint, status = found
    if current.json:
        _output.emit_json({"ok": True, "stopped": endpoint.to_dict(), "status": status})
    elif status == STOPPED:
        _output.success(f"stopped endpoint {endpoint.name} ({endpoint.model}:{endpoint.version})")
    else:  # nothing was signalled: the recorded pid is gone, or is another process now
        _output.stderr().print(
            f"endpoint {endpoint.name} was {status}: pid {endpoint.pid} left alone;"
            " its record and model folder are removed"
        )


def _deploy_azure(current, loaded, env: str, model: str | None, dry_run: bool) -> None:
    from mlops.cli._azure import progress, signed_in_clients
    from mlops.services import azure_ml

    azure_ml.workspace(loaded, env)  # bad input before any credential is tried
    clients = signed_in_clients(loaded)
    if dry_run:
        _print_dry_run(current, azure_ml.dry_run(loaded, env, model, clients))
        return
    on_event = progress(current)

    result = azure_ml.deploy(loaded, env, model, clients, on_event=on_event)
    if current.json:
        _output.emit_json(result.to_dict())
        return
    _output.success(
        f"{result.endpoint}: {result.deployment} serves {result.model} with all traffic"
        + (f"; {result.previous} removed" if result.previous else "")
    )


def _print_dry_run(current, release) -> None:
    """The YAML documents on stdout (what `az ml online-endpoint/online-deployment create`
    would take), what the rollout would do on stderr; one JSON document with --output json."""
    from mlops.serialize import dump_yaml

    plan = release.rollout_dict()
    if current.json:
        _output.emit_json(
            {
                "endpoint": release.endpoint_spec,
                "deployment": release.deployment_spec,
                "monitor": release.monitor_spec,
                "rollout": plan,
            }
        )
        return
    _output.emit_text("---\n".join(dump_yaml(d) for d in release.specs))
    err = _output.stderr()
    created = "create endpoint" if plan["creates_endpoint"] else "endpoint"
    err.print(f"dry run, nothing changed: {created} {release.endpoint}", markup=False)
    err.print(
        f"  deploy {plan['deployment']} at 0%: {plan['model']}, environment"
        f" {plan['environment'] or '(none)'}",
        markup=False,
    )
    for step in plan["traffic_steps"]:
        split = ", ".join(f"{d} {p}%" for d, p in step.items())
        err.print(f"  traffic: {split}", markup=False)
    if plan["removes"]:
        err.print(f"  remove {plan['removes']}", markup=False)
    if plan.get("monitor"):
        err.print(f"  monitor {plan['monitor']} on {plan['deployment']}", markup=False)


def promote(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="NAME:VERSION from the training workspace.")],
    to: Annotated[str, typer.Option("--to", help="The environment it moves on to.")],
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Make a gate-promoted model version deployable in a later environment.

    Copies NAME:VERSION from the first environment's workspace into the shared Azure ML
    registry (once, with its lineage tags and source job), so every later environment
    deploys the same bits. Refused (exit 2) when the gate did not promote the version, and,
    beyond the second environment, when the one before it is not serving that version.

    [bold]Examples[/bold]

      mlops promote diagnosis:3 --to test

      mlops promote diagnosis:3 --to prod --output json
    """
    from mlops.cli._azure import signed_in_clients
    from mlops.services import azure_ml

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    azure_ml.workspace(loaded, to)
    clients = signed_in_clients(loaded)
    result = azure_ml.promote(loaded, reference, to, clients)
    if current.json:
        _output.emit_json(result.to_dict())
        return
    copied = "copied into" if result.copied else "already in"
    _output.success(
        f"{result.name}:{result.version} {copied} registry {result.registry}; deployable in"
        f" {result.to}: `mlops deploy --env {result.to} --model {result.name}:{result.version}`"
    )


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
    request: Annotated[
        list[Path] | None,
        typer.Option(
            "--request",
            "-r",
            metavar="FILE",
            help="A JSON request (or a folder of them) to send instead of"
            " model.sample_request. Repeatable.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Send the sample request(s) named in mlops.yaml (or --request) to the local endpoint.

    Checks the status code, the answer against the output schema the endpoint publishes
    (swagger.json, from the script's @output_schema; a script without one publishes none
    and any JSON answer passes that check) and one answer per row of the request's `data`;
    prints latency. Exit 1 on any mismatch.

    [bold]Examples[/bold]

      mlops smoke --env local

      mlops smoke --request model-1/sample-request.json
    """
    from mlops.services import deploy as service

    current = session(ctx, config=config, output=output)
    result = service.smoke_local(current.load(), requests=request)
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
        schema = "" if check["output_schema"] else " (no output schema published)"
        console.print(
            f"{mark} {escape(check['sample'])}: {check['status']}{schema}, latency median"
            f" {latency['median']} ms, max {latency['max']} ms"
        )
        for problem in check["problems"]:
            console.print(f"    {escape(problem)}")


def serve(
    ctx: typer.Context,
    model: ModelOption = None,
    port: Annotated[int, typer.Option("--port", "-p", help="Port on 127.0.0.1.")] = 5001,
    env_mode: ServingEnvModeOption = None,
    config: ConfigOption = None,
) -> None:
    """Run the local inference server in the foreground (Ctrl-C stops it).

    The same server, environment, model layout and scoring script as `mlops deploy --env
    local`. Exit 1 when the port is taken; SIGTERM, SIGINT or SIGHUP stop the server's whole
    process tree.

    [bold]Examples[/bold]

      mlops serve --model diagnosis@champion --port 5001

      mlops serve --env-mode current
    """
    from mlops.services import deploy as service

    loaded = session(ctx, config=config).load()
    code = service.serve_foreground(
        loaded, model, port, mode=env_mode, progress=lambda m: _output.stderr().print(f"  {m}")
    )
    if code > 128:  # stopped by a signal: 130 for Ctrl-C, as every command
        raise typer.Exit(code)
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

    A Dockerfile on the image of deployment.environment (a curated environment, as
    Microsoft publishes it: the packages the local endpoint runs with), the scoring code and
    the model under AZUREML_MODEL_DIR.

    [bold]Examples[/bold]

      mlops package --model diagnosis@champion --out build/diagnosis

      docker build -t diagnosis:2 build/diagnosis && docker run -p 5001:5001 diagnosis:2
    """
    from mlops.services.package import package as build_context

    current = session(ctx, config=config, output=output)
    built = build_context(current.load(), model, out)
    if current.json:
        _output.emit_json(
            {
                "ok": True,
                "folder": str(built.folder),
                "image": built.image,
                "base_image": built.base_image,
                "environment": built.environment,
                "files": built.files,
            }
        )
        return
    _output.success(f"wrote the build context of {built.image} to {built.folder}")
    _output.stderr().print(
        f"  on {built.base_image}: {built.environment}\n"
        f"  docker build -t {built.image} {built.folder}\n"
        f"  docker run --rm -p 5001:5001 {built.image}\n"
        "  curl -H 'Content-Type: application/json' -d @request.json"
        " http://127.0.0.1:5001/score"
    )
