"""`mlops models` and `mlops ui`: the local model registry and the MLflow UI over it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, OutputOption, session

app = typer.Typer(no_args_is_help=True, help="Registered models: versions, lineage, gate reports.")

SHOWN_TAGS = {"gate_decision": "gate", "dataset_version": "dataset", "git_commit": "commit"}
EnvOption = Annotated[
    str,
    typer.Option(
        "--env", "-e", help="local (the MLflow store here), or an Azure environment's workspace."
    ),
]


@app.command(name="list")
def list_(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    env: EnvOption = "local",
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """List registered model versions, newest first, with aliases and lineage.

    In an Azure workspace the champion is the newest version the gate promoted (Azure ML's
    registry has no MLflow aliases).

    [bold]Examples[/bold]

      mlops models list

      mlops models list diagnosis --output json

      mlops models list --env dev
    """
    from rich.markup import escape
    from rich.table import Table

    from mlops.services import models
    from mlops.services.run import state_dir

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    if env != "local":
        from mlops.cli._azure import signed_in_clients
        from mlops.services import azure_ml

        azure_ml.workspace(loaded, env)
        found = azure_ml.models(loaded, env, signed_in_clients(loaded), name)
        versions = [v for group in found for v in group]
    else:
        registry = models.registry(state_dir(loaded))
        names = [name] if name else registry.names()
        versions = [v for n in names for v in registry.versions(n)]
    if current.json:
        _output.emit_json([_version_dict(v) for v in versions])
        return
    if not versions:
        _output.stderr().print("no registered models yet: `mlops run` registers promoted ones")
        return
    table = Table()
    for column in ("model", "aliases", "registered", *SHOWN_TAGS.values(), "build"):
        table.add_column(column, no_wrap=column in ("model", "registered"))
    for v in versions:
        tags = [escape(v.tags.get(t, "")[:8]) for t in SHOWN_TAGS]
        if v.tags.get("forced") == "true":
            tags[0] = "forced"
        table.add_row(
            escape(f"{v.name}:{v.version}"),
            ", ".join(v.aliases),
            _output.timestamp(v.created_ms)[:16],
            *tags,
            escape(v.tags.get("build_id", "")),
        )
    _output.stdout().print(table)


@app.command()
def show(
    ctx: typer.Context,
    reference: Annotated[
        str, typer.Argument(help="NAME (its champion), NAME:VERSION or NAME@ALIAS.")
    ],
    env: EnvOption = "local",
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Show one model version: aliases, lineage tags, metrics and the gate's evidence.

    [bold]Examples[/bold]

      mlops models show diagnosis

      mlops models show diagnosis:1 --output json

      mlops models show diagnosis:3 --env dev
    """
    from rich.markup import escape
    from rich.table import Table

    from mlops.services import models
    from mlops.services.run import state_dir

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    if env != "local":
        from mlops.cli._azure import signed_in_clients
        from mlops.services import azure_ml

        azure_ml.workspace(loaded, env)
        found = azure_ml.show(loaded, env, signed_in_clients(loaded), reference)
    else:
        found = models.show(state_dir(loaded), reference)
    if current.json:
        _output.emit_json(_version_dict(found))
        return
    console = _output.stdout()
    aliases = f" ({', '.join('@' + a for a in found.aliases)})" if found.aliases else ""
    console.print(f"[bold]{escape(found.name)}:{found.version}[/bold]{aliases}")
    console.print(f"registered {_output.timestamp(found.created_ms)}; {escape(found.description)}")
    tags = Table(title="tags", title_justify="left", show_header=False)
    for key, value in sorted(found.tags.items()):
        tags.add_row(escape(key), escape(value))
    console.print(tags)
    report = found.gate_report
    if report is None:
        decision = found.tags.get("gate_decision")
        console.print(
            f"gate: [bold]{escape(decision)}[/bold]: {escape(found.tags.get('gate_reason', ''))}"
            if decision
            else "no gate report recorded with this version"
        )
        return
    console.print(
        f"gate: [bold]{escape(report['decision'])}[/bold]: {escape(report['reason'])}\n"
        f"primary metric {report['primary_metric']} ({report['direction']}), threshold"
        f" {report['threshold']}, minimum improvement {report['min_improvement']}"
    )
    evidence = Table(title="holdout metrics", title_justify="left")
    evidence.add_column("metric")
    roles = [r for r in ("challenger", "champion") if report.get(r)]
    for role in roles:
        evidence.add_column(role)
    for metric in report["challenger"]["metrics"]:
        evidence.add_row(metric, *(f"{report[r]['metrics'][metric]:.4f}" for r in roles))
    console.print(evidence)


@app.command()
def register(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH",
            help="The model folder: an MLflow model (with its MLmodel file), or any folder"
            " with --scoring-script.",
            show_default=False,
        ),
    ],
    name: Annotated[
        str, typer.Option("--name", "-n", metavar="NAME", help="Model name.", show_default=False)
    ],
    scoring_script: Annotated[
        Path | None,
        typer.Option(
            "--scoring-script",
            "-s",
            metavar="FILE",
            help="Its scoring script (init() and run()), served with it by"
            " `mlops deploy --env local`. Default for an MLflow model: model.scoring_script.",
            show_default=False,
        ),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag", "-t", metavar="KEY=VALUE", help="A tag. Repeatable.", show_default=False
        ),
    ] = None,
    description: Annotated[
        str | None,
        typer.Option("--description", metavar="TEXT", help="Description.", show_default=False),
    ] = None,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Register a model trained elsewhere in the local registry (as `az ml model create`).

    The folder is kept as Azure ML keeps it (AZUREML_MODEL_DIR/<folder>/...), the scoring
    script beside it. The version is recorded as not gate-promoted (tag gate_decision:
    not promoted), so it never becomes champion by itself: serve it by its version.

    [bold]Examples[/bold]

      mlops models register model-1/model --name sklearn-regression \\
          --scoring-script model-1/onlinescoring/score.py --tag framework=sklearn

      mlops deploy --env local --model sklearn-regression:1

      mlops smoke --request model-1/sample-request.json
    """
    from mlops.services import models
    from mlops.services.run import state_dir

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    found = models.register(
        state_dir(loaded),
        path,
        name,
        scoring_script=scoring_script,
        tags=tag,
        description=description,
    )
    if current.json:
        _output.emit_json({"ok": True, **_version_dict(found)})
        return
    _output.success(f"registered {found.name}:{found.version} (not gate-promoted)")
    _output.stderr().print(
        f"  serve it: mlops deploy --env local --model {found.name}:{found.version}"
    )


def ui(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", "-p", help="Port on 127.0.0.1.")] = 5000,
    config: ConfigOption = None,
) -> None:
    """Open the MLflow UI on the local tracking store and registry (loopback only).

    Runs in the foreground until Ctrl-C. There is no --host: the store has no
    authentication, so the UI listens on 127.0.0.1 only; reach it from another machine
    through an SSH tunnel (ssh -L 5000:127.0.0.1:5000 HOST).

    [bold]Examples[/bold]

      mlops ui --port 5001
    """
    import os
    import sys

    from mlops.backends.local import processes
    from mlops.backends.local.tracking import open_client
    from mlops.services.run import state_dir

    state = state_dir(session(ctx, config=config).load())
    processes.ensure_port_free(port)
    open_client(state)  # the store made (or migrated) under its lock, not by the UI racing a run
    uri = f"sqlite:///{state / 'mlflow.db'}"
    _output.stderr().print(
        f"MLflow UI on http://127.0.0.1:{port} (store {uri}); Ctrl-C stops it\n"
        f"  loopback only, by design (the store has no authentication); from another"
        f" machine, tunnel: ssh -L {port}:127.0.0.1:{port} THIS_HOST"
    )
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--default-artifact-root",
        (state / "artifacts").as_uri(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        # only these Host headers (no DNS rebinding); said explicitly, MLflow no longer
        # suggests `--host 0.0.0.0`, which mlops does not offer
        "--allowed-hosts",
        f"127.0.0.1:{port},localhost:{port}",
    ]
    # its own process group, stopped whole (uvicorn or gunicorn, huey) on SIGTERM/INT/HUP
    code = processes.run_foreground(command, env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    if code > 128:  # stopped by a signal: 128 + its number (130 for Ctrl-C)
        raise typer.Exit(code)
    if code:
        raise typer.Exit(1)


def _version_dict(v) -> dict:
    return {
        "name": v.name,
        "version": v.version,
        "aliases": v.aliases,
        "registered": _output.timestamp(v.created_ms),
        "description": v.description,
        "tags": v.tags,
        "run_id": v.run_id,
        "source": v.source,
        "gate_report": v.gate_report,
    }
