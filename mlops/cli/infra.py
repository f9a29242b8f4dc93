"""`mlops plan` and `mlops provision`: review, then apply, the platform's infrastructure."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, OutputOption, session
from mlops.errors import BadInputError

if TYPE_CHECKING:
    from mlops.plan.changes import Plan

EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        "-e",
        help="One Azure environment (with the shared stack it depends on); default: all.",
    ),
]

_SYMBOLS = {
    "create": ("+", "green"),
    "modify": ("~", "yellow"),
    "delete": ("-", "red"),
    "deploy": ("!", "yellow"),
    "no-change": ("=", "dim"),
    "ignore": ("*", "dim"),
    "unsupported": ("?", "magenta"),
    "unmanaged": ("x", "magenta"),
}


def plan(
    ctx: typer.Context,
    env: EnvOption = None,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Do not call Azure: list the rendered resources."),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Save the plan as JSON for `provision --plan`.")
    ] = None,
    detailed_exitcode: Annotated[
        bool,
        typer.Option("--detailed-exitcode", help="Exit 0 when nothing changes, 3 when it does."),
    ] = False,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Show what `mlops provision` would change in Azure: ARM what-if per environment.

    Signed in (Azure CLI, managed identity or workload identity), each stack is compared
    with Azure: create, modify (with property-level differences), delete, no change.
    Without credentials, or with --offline, the rendered resources are listed as
    creates and the output says so.

    [bold]Examples[/bold]

      mlops plan --offline

      mlops plan --env prod --out plan.json

      mlops plan --detailed-exitcode     in CI: 0 no changes, 3 changes, 1 error
    """
    from mlops.services import infra

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    infra.select(loaded, env)  # an unknown --env is bad input before any call
    reason = "--offline" if offline else infra.online_reason(loaded, env)
    if reason is None:
        from mlops.backends.azure.clients import default_clients, signed_in

        clients = default_clients(loaded.config.azure.tenant_id)
        reason = signed_in(clients)
    if reason is None:
        result = infra.plan(loaded, env, clients)
    else:
        result = infra.offline_plan(loaded, env, reason)
    if out is not None:
        if result.offline:
            _output.stderr().print(
                "[yellow]warning:[/yellow] an offline plan cannot be applied with"
                " `provision --plan`; saved for review only"
            )
        out.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    if current.json:
        _output.emit_json(result.to_dict())
    else:
        show_plan(result)
        if out is not None:
            _output.stderr().print(f"plan saved to {out}")
    if detailed_exitcode and result.has_changes:
        raise typer.Exit(3)


def show_plan(result: Plan) -> None:
    """The plan as people (and pipeline logs) read it: one line per change, property
    differences under each modify, unchanged resources counted rather than listed."""
    from mlops.plan.changes import ROLES
    from mlops.plan.devops import DEVOPS

    console = _output.stdout()
    if result.offline:
        console.print(
            f"[yellow]offline plan[/yellow] ({result.reason}): every rendered resource is"
            " listed as a create; sign in to Azure for a what-if against what exists",
            soft_wrap=True,
        )
    for stack in result.stacks:
        checked = "" if stack.resource_group_exists else " (not checked)"
        if stack.stack == ROLES:
            heading = f"role definitions and assignments{checked}"
        elif stack.stack == DEVOPS:
            heading = f"Azure DevOps project {stack.resource_group}{checked}"
        else:
            rg_note = {True: "exists", False: "will be created", None: "not checked"}[
                stack.resource_group_exists
            ]
            heading = f"resource group {stack.resource_group} ({rg_note})"
        console.print(f"[bold]{stack.stack}[/bold]: {heading}", soft_wrap=True)
        for change in stack.changes:
            if change.action in ("no-change", "ignore"):
                continue
            symbol, style = _SYMBOLS.get(change.action, ("?", ""))
            note = ""
            if change.action == "unmanaged":
                note = (
                    "  (removed by --prune)"
                    if change.prunable
                    else "  (service principal: never pruned, review it by hand)"
                )
            console.print(
                f"  [{style}]{symbol} {change.action:<8}[/{style}] {change.type}  {change.name}"
                f"[dim]{note}[/dim]",
                soft_wrap=True,
                highlight=False,
            )
            for p in change.properties:
                if p.kind != "no-effect":
                    console.print(
                        f"      {p.path}: {_short(p.before)} -> {_short(p.after)}",
                        soft_wrap=True,
                        highlight=False,
                        markup=False,
                    )
        counts = stack.counts()
        summary = ", ".join(f"{n} {a}" for a, n in counts.items())
        console.print(f"  [dim]{summary or 'no resources'}[/dim]", soft_wrap=True)
    verdict = "changes pending" if result.has_changes else "no changes: Azure matches mlops.yaml"
    console.print(f"[bold]{verdict}[/bold]")


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def provision(
    ctx: typer.Context,
    env: EnvOption = None,
    plan_file: Annotated[
        Path | None,
        typer.Option("--plan", help="Apply only if a fresh what-if still matches this plan."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Also remove role assignments of users and groups at the platform's scopes"
            " that mlops.yaml does not declare (listed as unmanaged by `mlops plan`).",
        ),
    ] = False,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Create or update the platform in Azure: resource groups, ARM deployments, then roles.

    Incremental mode: nothing outside the templates is removed. Role definitions are
    applied before assignments; a new group's assignment waits out Entra replication.
    Role assignments mlops made and mlops.yaml no longer declares are removed; others
    (unmanaged) only with --prune. A re-run converges, and an unchanged platform gets no
    write at all. With --plan, provisioning refuses when Azure no longer matches the
    reviewed plan.

    [bold]Examples[/bold]

      mlops provision --env dev

      mlops plan --out plan.json && mlops provision --plan plan.json --yes

      mlops provision --prune     also remove hand-made role assignments
    """
    from mlops.plan.changes import ROLES
    from mlops.services import infra
    from mlops.services.rbac import prunable

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    infra.select(loaded, env)
    infra.check_prerequisites(loaded, env)
    saved = infra.load_plan(plan_file, loaded) if plan_file is not None else None
    if saved is not None and env is not None and saved.meta.get("env") != env:
        raise BadInputError(
            f"{plan_file} was made for --env {saved.meta.get('env') or '(all)'}, not {env}",
            hint="omit --env: the plan decides what is applied",
        )
    interactive = sys.stdin.isatty() and not current.json
    if not yes and not interactive:
        raise BadInputError(
            "refusing to provision without confirmation", hint="pass --yes in pipelines"
        )

    from mlops.cli._azure import signed_in_clients

    clients = signed_in_clients(loaded)
    err = _output.stderr()

    def confirm(fresh: Plan) -> bool:
        if current.json:
            return True
        show_plan(fresh)
        pruned = prunable(fresh.stack(ROLES)) if prune else 0
        if pruned:
            err.print(f"[magenta]--prune removes {pruned} unmanaged role assignment(s)[/magenta]")
        return yes or typer.confirm("Apply these changes?", default=False, err=True)

    def on_event(stack: str, event: str, detail: str) -> None:
        if current.json:
            return
        style = {"Succeeded": "green", "Failed": "red"}.get(event, "cyan")
        err.print(f"  [{time.strftime('%H:%M:%S')}] {stack}: [{style}]{event}[/{style}] {detail}")

    result = infra.provision(
        loaded, env, clients, saved=saved, confirm=confirm, on_event=on_event, prune=prune
    )
    if current.json:
        _output.emit_json(
            {
                "applied": result.applied,
                "created_resource_groups": result.created_resource_groups,
                "role_writes": result.role_writes,
                "federation": result.federation,
                "plan": result.plan.to_dict(),
            }
        )
        return
    if not result.plan.has_changes:
        _output.success("no changes: Azure already matches mlops.yaml")
    elif not result.applied:
        err.print("nothing applied")
    else:
        _output.success(f"provisioned {', '.join(result.applied)}")
