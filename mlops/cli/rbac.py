"""`mlops rbac`: the personas' roles for auditors, and what a persona may do."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, OutputOption, session

if TYPE_CHECKING:
    from mlops.services.rbac import MatrixRow

app = typer.Typer(
    no_args_is_help=True,
    help="Governance: who holds which Azure role where, and what a persona may do.",
)

_PERSONAS_HELP = (
    "platform_owners, platform_engineers, data_scientists, or an identity: training,"
    " promotion, deployment."
)


class MatrixFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command()
def matrix(
    ctx: typer.Context,
    env: Annotated[
        str | None,
        typer.Option("--env", "-e", help="One Azure environment (and the shared scopes)."),
    ] = None,
    team: Annotated[
        str | None,
        typer.Option("--team", "-t", help="One team's grants only (teams: in mlops.yaml)."),
    ] = None,
    output: Annotated[
        MatrixFormat | None,
        typer.Option(
            "--output",
            "-o",
            help="table for people, json for scripts, markdown for documents.",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print persona x environment x scope x role, and who holds each (for auditors).

    The matrix is the policy mlops.yaml implies; `mlops provision` assigns it to the
    groups and CI/CD identities named under `identities`.

    [bold]Examples[/bold]

      mlops rbac matrix

      mlops rbac matrix --env prod --output markdown > access-review.md

      mlops rbac matrix --team fraud
    """
    from mlops.services import rbac

    current = session(ctx, config=config)
    fmt = output or MatrixFormat(current.output.value)
    rows = rbac.matrix(current.load(), env, team)
    if fmt is MatrixFormat.json:
        _output.emit_json([r.to_dict() for r in rows])
    elif fmt is MatrixFormat.markdown:
        _output.emit_text(markdown(rows))
    else:
        _table(rows)


def markdown(rows: list[MatrixRow]) -> str:
    teams = any(r.team for r in rows)  # a team column only on a platform with teams
    lines = [
        "| " + ("team | " if teams else "") + "persona | env | scope | role | held by |",
        "|---" * (6 if teams else 5) + "|",
    ]
    for r in rows:
        role = r.role + (" ¹" if r.only_roles else "")
        held = ", ".join(r.principals) or "(none declared)"
        team = f"{r.team or '(platform)'} | " if teams else ""
        lines.append(f"| {team}{r.persona} | {r.env} | {r.scope} | {role} | {held} |")
    return "\n".join(lines + _footnotes(rows)) + "\n"


def _footnotes(rows: list[MatrixRow]) -> list[str]:
    from mlops.services.rbac import SERVERLESS_NOTE

    only = next((r.only_roles for r in rows if r.only_roles), ())
    out = [""]
    if only:
        out += [
            f"¹ with a condition: its holders may assign only {', '.join(only)}, and only to"
            " the principals mlops.yaml declares.",
            "",
        ]
    return [*out, SERVERLESS_NOTE]


def _table(rows: list[MatrixRow]) -> None:
    from rich.markup import escape
    from rich.table import Table

    teams = any(r.team for r in rows)
    table = Table()
    for column in (*(("team",) if teams else ()), "persona", "env", "scope", "role", "held by"):
        table.add_column(column)
    for r in rows:
        role = r.role + (" ¹" if r.only_roles else "")
        held = ", ".join(r.principals) or "[dim](none declared)[/dim]"
        first = (r.team or "(platform)",) if teams else ()
        table.add_row(*first, r.persona, r.env, escape(r.scope), escape(role), held)
    console = _output.stdout()
    console.print(table)
    for line in _footnotes(rows):
        console.print(line, soft_wrap=True)


@app.command()
def check(
    ctx: typer.Context,
    persona: Annotated[str, typer.Argument(help=_PERSONAS_HELP, show_default=False)],
    operation: Annotated[
        str,
        typer.Argument(
            help="An Azure operation, e.g. Microsoft.MachineLearningServices/workspaces/"
            "computes/write",
            show_default=False,
        ),
    ],
    env: Annotated[str, typer.Option("--env", "-e", help="The Azure environment.")],
    data: Annotated[
        bool | None,
        typer.Option(
            "--data/--control",
            help="Only for providers whose operations mlops does not keep: evaluate as a"
            " data action (dataActions) or a control-plane action. Microsoft's published list"
            " decides for the others, and an override that contradicts it exits 2.",
            show_default=False,
        ),
    ] = None,
    team: Annotated[
        str | None,
        typer.Option(
            "--team",
            "-t",
            help="The persona is a team's: data_scientists, engineers or pipelines of TEAM.",
        ),
    ] = None,
    on_team: Annotated[
        str | None,
        typer.Option(
            "--on-team",
            help="On another team's workspace, storage or AKS namespace (default: --team's).",
        ),
    ] = None,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Whether a persona may perform an Azure operation in an environment.

    Exit 0 if it may, 3 if it may not, 2 for a wildcard or an operation Microsoft does not
    publish. Evaluated as Azure does: `*` wildcards in roles, each role's notActions taken
    from that role only, every standing role at the operation's resource or above it.

    [bold]Examples[/bold]

      mlops rbac check training Microsoft.MachineLearningServices/workspaces/jobs/write -e dev

      mlops rbac check platform_engineers Microsoft.Authorization/roleAssignments/write -e prod

      mlops rbac check data_scientists Microsoft.MachineLearningServices/workspaces/jobs/read
      -e dev --team fraud --on-team churn
    """
    from mlops.services import rbac

    current = session(ctx, config=config, output=output)
    verdict = rbac.check_operation(
        current.load(), persona, operation, env, data=data, team_name=team, target_team=on_team
    )
    if current.json:
        _output.emit_json(verdict.to_dict())
    else:
        console = _output.stdout()
        kind = "data action" if verdict.data else "operation"
        if verdict.team:
            verdict_persona = f"team {verdict.team}'s {verdict.persona}"
        else:
            verdict_persona = verdict.persona
        if verdict.allowed:
            console.print(
                f"[green]allowed[/green]: {verdict_persona} may perform {kind}"
                f" {verdict.operation} in {verdict.env}",
                soft_wrap=True,
                highlight=False,
            )
        else:
            console.print(
                f"[red]denied[/red]: {verdict_persona} may not perform {kind}"
                f" {verdict.operation} in {verdict.env}",
                soft_wrap=True,
                highlight=False,
            )
        console.print(f"  at {verdict.target.label}", highlight=False)
        if not verdict.decisions:
            console.print("  no role of this persona applies at that scope", highlight=False)
        for grant, decision in verdict.decisions:
            where = f"{grant.role.name} at {grant.scope.label}"
            if decision.allowed:
                reason = f"granted by {decision.granted_by}"
            elif decision.excluded_by:
                reason = f"{decision.granted_by}, but notActions has {decision.excluded_by}"
            else:
                reason = "does not grant it"
            console.print(f"  {where}: {reason}", soft_wrap=True, highlight=False, markup=False)
        if verdict.source:
            console.print(
                f"  classified from {verdict.source}", soft_wrap=True, highlight=False, markup=False
            )
        for grant in verdict.eligible:
            console.print(
                f"  eligible: {grant.role.name} at {grant.scope.label}, once activated (PIM)",
                soft_wrap=True,
                highlight=False,
                markup=False,
            )
        if verdict.allowed and verdict.operation.lower().endswith("/workspaces/jobs/write"):
            from mlops.services.rbac import SERVERLESS_NOTE

            console.print(f"  {SERVERLESS_NOTE}", soft_wrap=True, highlight=False, markup=False)
        if verdict.conditions:
            console.print(
                f"  with a condition: only for the roles {', '.join(verdict.conditions)}",
                soft_wrap=True,
                highlight=False,
            )
    if not verdict.allowed:
        raise typer.Exit(3)
