"""`mlops team add|remove` and `mlops teams list`: onboard teams onto the platform."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, OutputOption, session

team_app = typer.Typer(
    no_args_is_help=True,
    help="Onboard or offboard a team: edits the platform's mlops.yaml, comments kept.",
)
teams_app = typer.Typer(no_args_is_help=True, help="The teams on this platform.")

Groups = Annotated[
    list[str] | None,
    typer.Option(
        metavar="NAME=OBJECT_ID",
        help="An Entra group (display name = object id); repeat for more.",
        show_default=False,
    ),
]


@team_app.command()
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Team name: lowercase letters and digits.")],
    data_scientists: Groups = None,
    engineers: Groups = None,
    repository: Annotated[
        list[str] | None,
        typer.Option(help="An Azure DevOps repository the team owns; repeat.", show_default=False),
    ] = None,
    contact: Annotated[
        list[str] | None,
        typer.Option(help="Email for budget and quota alerts; repeat.", show_default=False),
    ] = None,
    cores: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ENV=N", help="Training cores in an environment; repeat.", show_default=False
        ),
    ] = None,
    endpoint_instances: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ENV=N",
            help="Online-endpoint instances in an environment; repeat.",
            show_default=False,
        ),
    ] = None,
    identity: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ENV=CLIENT_ID:OBJECT_ID",
            help="The identity of the team's service connection in an environment; repeat.",
            show_default=False,
        ),
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(help="Monthly budget in the billing currency.", show_default=False),
    ] = None,
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Add a team to the platform's mlops.yaml.

    The new file is validated first and nothing is written when anything is wrong; it then
    replaces the old one atomically, with every comment kept.

    [bold]Examples[/bold]

      mlops team add fraud --data-scientists sg-fraud-ds=OBJECT_ID --repository fraud-model

      mlops team add churn --engineers sg-churn-eng=OBJECT_ID --cores dev=24 --budget 800
    """
    from mlops.config import find_config
    from mlops.services import teams

    current = session(ctx, config=config, output=output)
    quotas: dict[str, object] = {
        "cores": teams.parse_per_environment(cores or [], "--cores"),
        "endpoint_instances": teams.parse_per_environment(
            endpoint_instances or [], "--endpoint-instances"
        ),
    }
    if budget is not None:
        quotas["monthly_budget"] = budget
    definition = {
        "data_scientists": teams.parse_groups(data_scientists or [], "--data-scientists"),
        "engineers": teams.parse_groups(engineers or [], "--engineers"),
        "repositories": repository or [],
        "contacts": contact or [],
        "quotas": quotas,
        "identities": teams.parse_identities(identity or []),
    }
    change = teams.add(current.config_path or find_config(), name, definition)
    _report(change, current.json)
    if not current.json:
        _output.stderr().print(
            f"next: create its model repositories bound to the platform:\n"
            f"  mlops init ../MODEL --platform {change.file} --team {name}"
        )


@team_app.command()
def remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The team to remove.")],
    config: ConfigOption = None,
    output: OutputOption = None,
) -> None:
    """Remove a team from the platform's mlops.yaml.

    Comments elsewhere in the file are kept; the team's model repositories then fail
    `mlops config validate` until they are bound to another team.

    [bold]Examples[/bold]

      mlops team remove fraud
    """
    from mlops.config import find_config
    from mlops.services import teams

    current = session(ctx, config=config, output=output)
    _report(teams.remove(current.config_path or find_config(), name), current.json)


def _report(change, as_json: bool) -> None:
    if as_json:
        _output.emit_json(
            {
                "ok": True,
                "action": change.action,
                "team": change.team,
                "file": change.file,
                "definition": change.definition,
            }
        )
        return
    _output.success(f"{change.action} team '{change.team}' in {change.file}")


@teams_app.command("list")
def list_teams(
    ctx: typer.Context, config: ConfigOption = None, output: OutputOption = None
) -> None:
    """The platform's teams: groups, repositories, quotas and what is used of them.

    Usage read without Azure: the online-endpoint instances the team's model repositories
    declare (deployment.instance_count in each environment its CD deploys to), for the
    repositories checked out beside the platform repository. Cores in use are known only to
    Azure ML's usage API, so they show as '?'.

    [bold]Examples[/bold]

      mlops teams list

      mlops teams list --output json
    """
    from mlops.config import find_config
    from mlops.services import teams

    current = session(ctx, config=config, output=output)
    found = teams.rows(teams.platform_config(current.config_path or find_config()))
    if current.json:
        _output.emit_json({"teams": [row.to_dict() for row in found]})
        return
    if not found:
        _output.stderr().print("no teams yet: onboard one with `mlops team add NAME ...`")
        return
    from rich.table import Table

    table = Table("team", "groups", "repositories", "cores", "endpoint instances", "budget")
    for row in found:
        quotas, usage = row.team.quotas, row.usage
        envs = sorted({*quotas.cores, *quotas.endpoint_instances, *usage.endpoint_instances})
        instances = [
            f"{env}: {usage.endpoint_instances.get(env, '?')}"
            f"/{quotas.endpoint_instances.get(env, '-')}"
            for env in envs
            if env in quotas.endpoint_instances or env in usage.endpoint_instances
        ]
        table.add_row(
            row.name,
            "\n".join(
                [f"ds: {g.name}" for g in row.team.data_scientists]
                + [f"eng: {g.name}" for g in row.team.engineers]
            ),
            "\n".join(
                r + ("" if r in usage.repositories_read else " (not checked out)")
                for r in row.team.repositories
            ),
            "\n".join(f"{env}: ?/{n}" for env, n in quotas.cores.items()),
            "\n".join(instances),
            "-" if quotas.monthly_budget is None else f"{quotas.monthly_budget:g}/month",
        )
    _output.stdout().print(table)
    _output.stderr().print(
        "used/limit; '?': only Azure knows (cores), or no repository is checked out beside"
        " the platform"
    )
