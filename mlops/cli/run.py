"""`mlops run` and `mlops validate`: Azure ML pipelines on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import (
    ConfigOption,
    EnvModeOption,
    OutputOption,
    VerboseOption,
    session,
)


def run(
    ctx: typer.Context,
    pipeline: Annotated[
        Path | None,
        typer.Argument(
            help="Azure ML pipeline or command job YAML. Default: model.pipeline in mlops.yaml.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    env: Annotated[
        str,
        typer.Option(
            "--env",
            "-e",
            help="local (this machine), or an Azure environment of mlops.yaml (its workspace).",
        ),
    ] = "local",
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Override a pipeline input: inputs.NAME=VALUE (repeatable).",
            show_default=False,
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every step, even unchanged ones.")
    ] = False,
    force_register: Annotated[
        bool,
        typer.Option(
            "--force-register",
            help="Register the model even if the gate does not promote it (platform engineers;"
            " recorded in its tags). Never below the absolute threshold.",
        ),
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option("--no-wait", help="Azure: print the job URL and return once submitted."),
    ] = False,
    follow: Annotated[
        str | None,
        typer.Option(
            "--follow",
            metavar="JOB",
            help="Azure: submit nothing, follow job JOB to its end (after a lost connection).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.01,
            help="Minutes: locally, then the running steps are stopped and the run fails;"
            " on Azure, how long to wait for the job (default 240; the job goes on).",
            show_default=False,
        ),
    ] = None,
    env_mode: EnvModeOption = None,
    verbose: VerboseOption = 0,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Run an Azure ML pipeline, command or sweep job here as Azure ML would, or submit it.

    Locally (the default): steps run as local processes in dependency order (independent
    ones in parallel), unchanged steps are reused, each step is an MLflow child run under
    .mlops/. Sweep steps run their trials (each a child run; the best trial's outputs are
    the step's), parallel steps their mini-batches, distributed commands one process per
    rank; AutoML and Spark jobs are refused (exit 2): submit them with --env dev.

    With --env dev (or any Azure environment): the same YAML is submitted to that
    environment's workspace with the experiment name and lineage tags (build, commit,
    dataset), each step's status is printed as it changes, and the gate's decision is read
    from the evaluate step. Exit 1 when a step fails (or the wait times out, with the job
    URL), 2 when the pipeline is rejected before anything runs.

    [bold]Examples[/bold]

      mlops run

      mlops run pipelines/train.yml --set inputs.regularization=0.5

      mlops run jobs/train.yml        a command job: one step, run as a one-step pipeline

      mlops run jobs/sweep.yml        a sweep job: trials two at a time, the best one kept

      mlops run --env dev --timeout 120        continuous training, in a pipeline

      mlops run --env dev --no-wait

      mlops run --env dev --follow calm_bean_7x2k     resume following a submitted job
    """
    from mlops.services import run as service

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    overrides = _overrides(set_ or [])
    service.check_overrides(overrides)  # before anything else, for every backend
    if env != "local":
        wait_minutes = 240 if timeout is None else timeout
        _run_azure(
            current,
            loaded,
            env,
            pipeline,
            overrides,
            force_register,
            no_wait,
            wait_minutes,
            follow=follow,
        )
        return
    if follow is not None:
        from mlops.errors import BadInputError

        raise BadInputError("--follow follows a job on Azure ML", hint="add --env dev")
    run_id = service.new_run_id()
    plan = service.prepare(
        loaded, pipeline, overrides, run_id=run_id, force_register=force_register, mode=env_mode
    )
    if plan.job.warnings:  # on stderr, so --output json stays one document
        _output.issues(plan.job.warnings)
    err = _output.stderr()
    environments = service.build_environments(
        plan, on_progress=lambda m: err.print(m, markup=False)
    )
    from mlops.cli._live import LiveView

    stream = (current.verbose or verbose) > 0 and not current.json
    with LiveView(list(plan.steps), stream_logs=stream) as view:
        summary = service.execute(
            loaded,
            plan,
            run_id=run_id,
            use_cache=not no_cache,
            on_event=None if current.json else view.on_event,
            on_line=view.on_line if stream else None,
            on_note=None if current.json or stream else view.on_note,
            timeout_s=None if timeout is None else timeout * 60,
            environments=environments,
        )
    if current.json:
        _output.emit_json(summary.to_dict())
    else:
        _print_summary(summary)
    if not summary.ok:
        raise typer.Exit(1)


def _run_azure(
    current, loaded, env, pipeline, overrides, force_register, no_wait, timeout, *, follow=None
) -> None:
    from mlops.cli._azure import progress, signed_in_clients
    from mlops.services import azure_ml

    azure_ml.workspace(loaded, env)  # bad input before any credential is tried
    clients = signed_in_clients(loaded)
    err = _output.stderr()
    on_event = progress(current, width=10)

    result = azure_ml.run(
        loaded,
        env,
        pipeline,
        overrides,
        clients,
        force_register=force_register,
        wait=not no_wait,
        timeout_s=timeout * 60,
        on_event=on_event,
        follow=follow,
    )
    if current.json:
        _output.emit_json(result.to_dict())
        return
    if not result.waited:
        _output.success(f"submitted {result.job.name}: {result.job.url}")
        return
    gate = result.gate
    _output.success(f"{result.job.name} completed: {result.job.url}")
    if gate:
        err.print(f"  gate: {gate.get('gate_decision')}: {gate.get('gate_reason', '')}")


def _overrides(values: list[str]) -> dict[str, str]:
    overrides = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("inputs.") or len(key) <= len("inputs."):
            raise typer.BadParameter(f"'{item}' is not inputs.NAME=VALUE", param_hint="'--set'")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:  # bytes the shell passed that are not text
            shown = item.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            raise typer.BadParameter(
                f"'{shown}' is not valid UTF-8 (shown with U+FFFD where it is not)",
                param_hint="'--set'",
            ) from None
        overrides[key.removeprefix("inputs.")] = value
    return overrides


def _print_summary(summary) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = _output.stderr()
    table = Table(title=f"run {summary.run_id}", title_justify="left")
    for column in ("step", "status", "ran", "duration"):
        table.add_column(column, no_wrap=True)
    table.add_column("outputs", overflow="fold")
    for step in summary.steps.values():
        ran = "reused" if step.status == "reused" else ("ran" if step.command else "-")
        status = "completed" if step.status == "reused" else step.status
        outputs = "\n".join(f"{k}: {_short(v)}" for k, v in step.outputs.items())
        table.add_row(escape(step.id), status, ran, f"{step.duration:.1f}s", escape(outputs))
    _output.stdout().print(table)
    for step in summary.steps.values():
        if step.sweep:
            _print_sweep(step.id, step.sweep)
    failed = [s for s in summary.steps.values() if s.status == "failed"]
    for step in failed:
        console.print(f"[bold red]step {escape(step.id)} failed[/bold red] ({step.reason})")
        if step.command:
            console.print(f"  command: {escape(step.command)}")
        if step.log and step.log.exists():
            console.print(f"  last lines of {escape(_short(step.log))}:")
            for line in step.log.read_text(errors="replace").splitlines()[-20:]:
                console.print(f"    {escape(line)}")
    if summary.timed_out:
        console.print("[bold red]timed out[/bold red]: the running steps were stopped (--timeout)")
    if summary.gate:
        _print_gate(summary.gate)
    verdict = "[green]completed[/green]" if summary.ok else "[red]failed[/red]"
    console.print(
        f"{verdict} in {summary.duration:.1f}s; run folder {escape(_short(summary.run_dir))};"
        f" MLflow run {summary.mlflow_run_id} in experiment '{escape(summary.experiment)}'"
    )


def _print_sweep(step: str, sweep: dict) -> None:
    """A sweep step's answer: its best trial, and what happened to the others."""
    from collections import Counter

    from rich.markup import escape

    counts = Counter(t["status"] for t in sweep["trials"])
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    best = sweep.get("best")
    if best is None:
        line = f"sweep {step}: no best trial ({tally})"
    else:
        params = " ".join(f"{k}={v}" for k, v in best["params"].items())
        line = (
            f"sweep {step}: best trial {best['index']} ({params}):"
            f" {sweep['primary_metric']} {best['objective']} ({sweep['goal']}); {tally}"
        )
    _output.stdout().print(escape(line))


def _print_gate(gate: dict) -> None:
    """The gate's decision, its reason and what was registered: the run's answer."""
    from rich.markup import escape

    console = _output.stdout()
    colour = "green" if gate.get("decision") == "promoted" else "yellow"
    console.print(
        f"gate: [{colour}]{escape(str(gate.get('decision')))}[/{colour}]:"
        f" {escape(str(gate.get('reason') or ''))}"
    )
    version = gate.get("registered_version")
    if version is None:
        console.print("registered: none")
    elif gate.get("forced"):
        console.print(f"registered: version {version}, by force (not champion)")
    else:
        console.print(f"registered: version {version} (champion)")


def _short(path: Path) -> str:
    from mlops.config import display_path

    return display_path(Path(path))


def validate(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders. Default: pipelines/ beside mlops.yaml."),
    ] = None,
    env_mode: Annotated[
        str | None,
        typer.Option(
            "--env-mode",
            help="Resolve environments as `mlops run --env-mode` would (nothing is built):"
            " isolated or current. Default: $MLOPS_ENV_MODE, else isolated.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Check Azure ML YAML without running it: every check `mlops run` makes before a step
    starts.

    The SDK's loaders, then every binding; for a job (pipeline or command), its inputs are
    planned, with the data section of mlops.yaml when there is one, and its environments
    resolved (not built). Warnings name what Azure ML accepts and the local run ignores.

    [bold]Examples[/bold]

      mlops validate

      mlops validate pipelines/train.yml --output json
    """
    from mlops.errors import PipelineError
    from mlops.services.pipelines import check_files

    current = session(ctx, config=config, output=output)
    loaded = _config_if_any(current)
    if not paths:
        paths = [current.load().root / "pipelines"]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise PipelineError(
            f"not found: {', '.join(map(str, missing))}",
            hint="pass existing pipeline or component files, or folders holding them",
        )
    files = sorted({f for p in paths for f in ([p] if p.is_file() else _yaml_files(p))}, key=str)
    if not files:
        raise PipelineError(
            f"no YAML files in {', '.join(map(str, paths))}",
            hint="pass the pipeline and component files to check",
        )
    results = check_files(files, loaded, mode=env_mode)
    checked = [
        {
            "file": _short(r.path),
            "kind": r.kind,
            "job": r.job,
            "problems": sum(i.severity == "error" for i in r.issues),
            "warnings": sum(i.severity != "error" for i in r.issues),
        }
        for r in results
    ]
    issues = [i for r in results for i in r.issues if i.severity == "error"]
    warnings = [i for r in results for i in r.issues if i.severity != "error"]
    if warnings:
        _output.issues(warnings)
    if issues:
        raise PipelineError(
            f"{len({i.file for i in issues})} of {len(files)} file(s) would be rejected",
            hint="fix the lines above; nothing was run",
            issues=issues,
        )
    if current.json:
        _output.emit_json({"ok": True, "files": checked})
        return
    for item in checked:
        known = ("pipeline", "pipeline_component", "command", "sweep", "parallel")
        note = "" if item["kind"] in known else " (not a pipeline or component: skipped)"
        _output.success(f"{item['file']}: {item['kind']}{note}")


def _config_if_any(current):
    """mlops.yaml when one is given or found (a broken one is an error, as for `run`)."""
    from mlops.config import find_config
    from mlops.errors import ConfigError

    if current.config_path is None:
        try:
            find_config()
        except ConfigError:
            return None
    return current.load()


def _yaml_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()]
