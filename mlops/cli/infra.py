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
    from mlops.plan.changes import Plan, PropertyChange, ResourceChange

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
    "detach": ("/", "yellow"),
    "no-change": ("=", "dim"),
    "noise": ("~", "dim"),
    "ignore": ("*", "dim"),
    "unsupported": ("?", "magenta"),
    "may-change": ("?", "magenta"),
    "unmanaged": ("x", "magenta"),
}
#: how a property difference is marked (as the Azure CLI marks them; x: no effect)
_PROPERTY_SYMBOLS = {"create": "+", "delete": "-", "modify": "~", "array": "~", "no-effect": "x"}
#: where property lines start, and where their folded continuation lines start
_INDENT, _HANG = 6, 10


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
        typer.Option(
            "--detailed-exitcode",
            help="Exit 0 when nothing changes, 3 when something changes or may change"
            " (what Azure cannot predict), 1 on error or when the plan could not compare"
            " with Azure (no credentials: offline), 2 on bad input.",
        ),
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Plan as `provision --prune` applies: resources removed from mlops.yaml are"
            " deleted, not detached.",
        ),
    ] = False,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Show what `mlops provision` would change in Azure: ARM what-if per environment.

    Signed in (Azure CLI, managed identity or workload identity), each stack is compared
    with Azure: create, modify (with property-level differences), delete, detach, no change.
    What-if noise (properties Azure fills in itself) is shown dim and never applied;
    what Azure cannot predict (unsupported, potential changes) is shown as may change.
    A summary line ends the plan; `mlops -v plan` also lists what Azure ignores.
    Without credentials, or with --offline, the rendered resources are listed as
    creates and the output says so.

    [bold]Examples[/bold]

      mlops plan --offline

      mlops plan --env prod --out plan.json

      mlops plan --detailed-exitcode     in CI: 0 none, 3 changes or may change

    With --detailed-exitcode an offline plan is an error (exit 1): it compares nothing,
    so it can tell neither "no changes" nor "changes" (--offline with it is bad input).
    """
    from mlops.errors import BadInputError
    from mlops.services import infra

    current = session(ctx, config=config, output=output)
    if offline and detailed_exitcode:
        raise BadInputError(
            "--detailed-exitcode reports what differs from Azure; --offline compares nothing",
            hint="drop one of them: mlops plan --detailed-exitcode (signed in), or --offline",
        )
    loaded = current.load()
    infra.select(loaded, env)  # an unknown --env, a bound repository: bad input before any call
    reason = "--offline" if offline else infra.online_reason(loaded, env)
    if reason is None:
        from mlops.backends.azure.clients import default_clients, signed_in

        clients = default_clients(loaded.config.azure.tenant_id)
        reason = signed_in(clients)
    if reason is None:
        result = infra.plan(loaded, env, clients, prune=prune)
    else:
        result = infra.offline_plan(loaded, env, reason)
    if out is not None:
        if result.offline:
            _output.stderr().print(
                "[yellow]warning:[/yellow] an offline plan cannot be applied with"
                " `provision --plan`; saved for review only"
            )
        out.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    from mlops.cost.estimate import estimate, lines

    cost = estimate(loaded.config)
    if current.json:
        _output.emit_json({**result.to_dict(), "cost": cost})
    else:
        show_plan(result, verbose=current.verbose)
        _output.stderr().print("\n".join(lines(cost)), markup=False)
        if out is not None:
            _output.stderr().print(f"plan saved to {out}")
    if detailed_exitcode and result.offline:
        from mlops.errors import MlopsError

        # not a comparison: exiting 0 or 3 would claim to know (Terraform exits 1 when it
        # cannot refresh); printed on stderr, so stdout keeps the one plan document
        _output.error(
            MlopsError(
                f"--detailed-exitcode: the plan could not compare with Azure ({reason});"
                " it lists the rendered resources only",
                hint="sign in (az login, or the pipeline's service connection) and run again",
            ),
            as_json=False,
        )
        raise typer.Exit(1)
    if detailed_exitcode and (result.has_changes or result.has_unknown):
        raise typer.Exit(3)


def show_plan(result: Plan, verbose: int = 0) -> None:
    """The plan as people (and pipeline logs) read it, like `terraform plan`: per stack one
    line per change with its property differences (Azure's paths, long values folded onto
    indented lines, never cut), what-if's diagnostics, then one summary line. Unchanged
    resources are counted, not listed; ignored ones are listed with -v."""
    from rich.markup import escape

    from mlops.plan.changes import ROLES
    from mlops.plan.devops import DEVOPS
    from mlops.plan.quotas import QUOTAS

    console = _output.stdout()
    width = max(console.width, 40)
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
        elif stack.stack == QUOTAS:
            heading = f"Azure ML workspace compute quotas of the teams{checked}"
        else:
            rg_note = {True: "exists", False: "will be created", None: "not checked"}[
                stack.resource_group_exists
            ]
            heading = f"resource group {stack.resource_group} ({rg_note})"
        console.print(f"[bold]{stack.stack}[/bold]: {escape(heading)}", soft_wrap=True)
        for change in stack.changes:
            if change.action == "no-change" or (change.action == "ignore" and not verbose):
                continue
            symbol, style = _SYMBOLS.get(change.action, ("?", ""))
            console.print(
                f"  [{style}]{symbol} {change.action:<11}[/{style}]"
                f" {escape(change.type)}  {escape(change.name)}[dim]{escape(_note(change))}[/dim]",
                soft_wrap=True,
                highlight=False,
            )
            for p in change.properties:
                if p.kind == "no-effect" and not verbose:
                    continue
                dim = change.action == "noise" or p.noise is not None
                for line in _fold(_property_line(p), width, _INDENT, _HANG):
                    console.print(
                        f"[dim]{escape(line)}[/dim]" if dim else escape(line),
                        soft_wrap=True,
                        highlight=False,
                    )
        for diagnostic in stack.diagnostics:
            for line in _fold(f"! {diagnostic}", width, 2, 4):
                console.print(f"[yellow]{escape(line)}[/yellow]", soft_wrap=True)
        counts = stack.counts()
        summary = ", ".join(f"{n} {a}" for a, n in counts.items())
        console.print(f"  [dim]{summary or 'no resources'}[/dim]", soft_wrap=True)
    _show_teams(result)
    console.print(f"[bold]{summary_line(result)}[/bold]", soft_wrap=True)
    if result.has_changes or result.has_unknown:
        verdict = "changes pending"
        if result.has_unknown:
            verdict += ": some may change, Azure cannot predict them (review them)"
    else:
        verdict = "no changes: Azure matches mlops.yaml"
    console.print(f"[bold]{verdict}[/bold]")


def _show_teams(result: Plan) -> None:
    """With teams: each team's changes (then the platform's shared ones), so onboarding a
    team reads as creates under that team only. Unchanged resources are counted."""
    from rich.markup import escape

    grouped = result.meta.get("teams") or {}
    if not grouped:
        return
    console = _output.stdout()
    console.print("[bold]by team[/bold]")
    for team, changes in grouped.items():
        counts: dict[str, int] = {}
        for c in changes:
            counts[c["action"]] = counts.get(c["action"], 0) + 1
        summary = ", ".join(f"{n} {a}" for a, n in counts.items()) or "nothing"
        console.print(f"  [bold]{escape(team)}[/bold]: {summary}", soft_wrap=True)
        for c in changes:
            if c["action"] in ("no-change", "ignore", "noise"):
                continue
            symbol, style = _SYMBOLS.get(c["action"], ("?", ""))
            console.print(
                f"    [{style}]{symbol} {c['action']:<11}[/{style}] {escape(c['stack'])}:"
                f" {escape(c['type'])}  {escape(c['name'])}",
                soft_wrap=True,
                highlight=False,
            )


def summary_line(result: Plan) -> str:
    """`Plan: 1 to add, 2 to change, 0 to destroy, 0 to detach, 1 may change, 40 unchanged.`"""
    n = result.summary()
    return (
        f"Plan: {n['add']} to add, {n['change']} to change, {n['destroy']} to destroy,"
        f" {n['detach']} to detach, {n['may_change']} may change, {n['unchanged']} unchanged."
    )


def _note(change: ResourceChange) -> str:
    if change.action == "unmanaged":
        return (
            "  (removed by --prune)"
            if change.prunable
            else "  (service principal: never pruned, review it by hand)"
        )
    if change.action == "noise":
        return "  (what-if noise: only properties Azure fills in itself; not applied)"
    if change.action == "ignore":
        return "  (not in the template: left as it is)"
    if change.reason:
        return f"  ({change.reason})"
    return ""


def _property_line(p: PropertyChange) -> str:
    symbol = _PROPERTY_SYMBOLS.get(p.kind, "~")
    if p.kind == "create":
        text = f"{p.path}: {_text(p.after)}"
    elif p.kind in ("delete", "no-effect"):
        text = f"{p.path}: {_text(p.before)}"
    else:
        text = f"{p.path}: {_text(p.before)} -> {_text(p.after)}"
    if p.noise is not None:
        text += "  (noise)"
    return f"{symbol} {text}"


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _fold(text: str, width: int, indent: int, hang: int) -> list[str]:
    """`text` in lines of at most `width` columns: the first at `indent`, the rest at `hang`,
    broken after a space or comma when one is near, else inside a word; nothing is cut."""
    lines = []
    lead = " " * indent
    while True:
        room = max(width - len(lead), 10)
        if len(text) <= room:
            lines.append(lead + text)
            return lines
        cut = max(text.rfind(" ", 0, room + 1), text.rfind(",", 0, room))
        cut = cut + 1 if cut >= room // 2 else room
        lines.append((lead + text[:cut]).rstrip())
        text = text[cut:].lstrip(" ")
        if not text:
            return lines
        lead = " " * hang


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
            help="Delete (not detach) the resources removed from mlops.yaml, and remove role"
            " assignments of users and groups at the platform's scopes that mlops.yaml does"
            " not declare (listed as unmanaged by `mlops plan`).",
        ),
    ] = False,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Create or update the platform in Azure: resource groups, deployment stacks, then roles.

    Each stack (shared, each environment) is an ARM deployment stack named
    mlops-<project>-<stack>: a resource removed from mlops.yaml is detached (left in Azure,
    no longer managed), or deleted with --prune; deny settings (azure.stacks) make Azure
    refuse hand edits. Provisioning refuses to start while a stack of this project is still
    deploying (another run); Ctrl-C stops waiting, the stack goes on in Azure (exit 130).
    Role definitions are applied before assignments; a new group's assignment waits out
    Entra replication. Role assignments mlops made and mlops.yaml no longer declares are
    removed; others (unmanaged) only with --prune. A re-run converges, and an unchanged
    platform gets no write at all. With --plan, provisioning refuses when Azure no longer
    matches the reviewed plan.

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
        if yes and saved is None and fresh.has_unknown:
            if not current.json:
                show_plan(fresh, verbose=current.verbose)
            _refuse_unreviewed(fresh)
        if current.json:
            return True
        show_plan(fresh, verbose=current.verbose)
        pruned = prunable(fresh.stack(ROLES)) if prune else 0
        if pruned:
            err.print(f"[magenta]--prune removes {pruned} unmanaged role assignment(s)[/magenta]")
        return yes or typer.confirm("Apply these changes?", default=False, err=True)

    def on_event(stack: str, event: str, detail: str) -> None:
        if current.json:
            return
        style = {"Succeeded": "green", "Failed": "red"}.get(event, "cyan")
        err.print(f"  [{time.strftime('%H:%M:%S')}] {stack}: [{style}]{event}[/{style}] {detail}")

    try:
        result = infra.provision(
            loaded, env, clients, saved=saved, confirm=confirm, on_event=on_event, prune=prune
        )
    except infra.ProvisionInterrupted as stopped:  # Ctrl-C, SIGTERM: the stack goes on
        from mlops.cli._group import EXIT_TERMINATED, Terminated

        err.print(f"[yellow]{stopped.message}[/yellow]", soft_wrap=True, highlight=False)
        err.print(f"hint: {stopped.hint}", soft_wrap=True, highlight=False, markup=False)
        raise typer.Exit(
            EXIT_TERMINATED if isinstance(stopped.cause, Terminated) else 130
        ) from None
    if current.json:
        _output.emit_json(
            {
                "applied": result.applied,
                "created_resource_groups": result.created_resource_groups,
                "role_writes": result.role_writes,
                "remediations": result.remediations,
                "budgets": result.budgets,
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
    if result.remediations:
        err.print(
            f"{len(result.remediations)} remediation task(s) started for the resource-log"
            " policies; they run in Azure (az policy remediation list -g <resource group>)"
        )


def _refuse_unreviewed(fresh: Plan) -> None:
    """An unattended provision (--yes, no saved plan) never applies what Azure cannot
    predict: it needs a person to review a saved plan first (exit 2, nothing applied)."""
    from mlops.plan.changes import UNKNOWN

    unknown = [f"{c.type}/{c.name}" for s in fresh.stacks for c in s.changes if c.action in UNKNOWN]
    raise BadInputError(
        f"refusing to provision unattended: {len(unknown)} resource(s) may change and Azure"
        f" cannot predict how: {', '.join(unknown)}",
        hint="run `mlops plan --out plan.json`, review it, then"
        " `mlops provision --plan plan.json --yes`",
    )
