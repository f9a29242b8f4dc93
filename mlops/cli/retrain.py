"""`mlops retrain-reason`: whether continuous training should train now, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, OutputOption, session


def retrain_reason(
    ctx: typer.Context,
    env: Annotated[
        str,
        typer.Option(
            "--env", "-e", help="local (the data file and the local registry) or an Azure env."
        ),
    ] = "local",
    build_reason: Annotated[
        str,
        typer.Option(
            "--build-reason",
            envvar="BUILD_REASON",
            help="Why the pipeline runs (Azure DevOps' Build.Reason): IndividualCI, BatchedCI"
            " and Manual always train. Default: $BUILD_REASON, else a check.",
            show_default=False,
        ),
    ] = "",
    schedule: Annotated[
        str,
        typer.Option(
            "--schedule",
            envvar="BUILD_CRONSCHEDULE_DISPLAYNAME",
            help="The schedule that started it (Build.CronSchedule.DisplayName): the weekly"
            " retraining schedule always trains. Default: $BUILD_CRONSCHEDULE_DISPLAYNAME.",
            show_default=False,
        ),
    ] = "",
    monitor_report: Annotated[
        Path | None,
        typer.Option(
            "--monitor-report",
            help="The latest monitor report (JSON, as `mlops monitor --output json` writes):"
            " a crossed threshold newer than the champion trains. On Azure, without it, the"
            " newest run of each serving endpoint's monitor schedule is read"
            " (monitoring.collection).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Decide whether CT trains now: push, schedule, new data or drift.

    A push, a run queued by hand and the weekly schedule always train. The daily check
    trains when the training data asset has a version registered after the champion (and
    not the one its lineage names) that no completed run has tried yet (else it says
    already-tried), or when the monitor crossed a threshold after the champion was
    registered. On Azure the decision names the newest data version to train on (`set`).
    Exit codes: 0 decided (train or not: see `retrain`), 1 the evidence could not be read,
    2 bad input.

    [bold]Examples[/bold]

      mlops retrain-reason

      mlops retrain-reason --env dev --output json

      mlops retrain-reason --monitor-report .mlops/monitoring/report.json
    """
    from mlops.services import retrain

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    clients = None
    if env != "local":
        from mlops.cli._azure import signed_in_clients
        from mlops.services import azure_ml

        azure_ml.workspace(loaded, env)
        clients = signed_in_clients(loaded)
    result = retrain.decide_for(
        loaded,
        env,
        build_reason=build_reason,
        schedule=schedule,
        monitor_report=monitor_report,
        clients=clients,
    )
    if current.json:
        _output.emit_json(result)
        return
    verdict = f"train ({result['trigger']})" if result["retrain"] else "no training needed"
    _output.emit_text(f"{verdict}: {result['reason']}")
    for item in result["set"]:
        _output.emit_text(f"  --set {item}")
