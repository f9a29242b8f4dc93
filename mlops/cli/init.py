"""`mlops init`: start a new model project from the reference project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import OutputOption, session


def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="New (or empty) folder for the project.")],
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="Project name. Default: the folder's name."),
    ] = None,
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform",
            metavar="PATH_OR_URL",
            help="Bind the project to a platform: its repository's folder or mlops.yaml, or its"
            " git URL (checked out beside DIRECTORY).",
            show_default=False,
        ),
    ] = None,
    team: Annotated[
        str | None,
        typer.Option(help="The platform team that owns the project.", show_default=False),
    ] = None,
    output: OutputOption = None,
) -> None:
    """Create a model project: reference model, pipelines, tests and mlops.yaml, ready to run.

    Works offline, from the template inside the installed package. With --platform and
    --team, the project is a model repository of that platform: its mlops.yaml holds only
    the project's sections and names the platform and team.

    [bold]Examples[/bold]

      mlops init churn

      mlops init projects/fraud --name fraud-detection

      mlops init fraud-model --platform ../platform --team fraud
    """
    from mlops.services.new_project import create

    current = session(ctx, output=output)
    project = create(directory, name, platform=platform, team=team)
    if current.json:
        _output.emit_json(
            {"ok": True, "root": str(project.root), "name": project.name, "files": project.files}
        )
        return
    _output.success(f"created project '{project.name}' in {directory} ({len(project.files)} files)")
    _output.stderr().print(
        f"next:\n  cd {directory}\n  pytest\n  mlops run\n  mlops models show {project.name}"
    )
