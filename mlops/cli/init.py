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
    output: OutputOption = None,
) -> None:
    """Create a model project: reference model, pipelines, tests and mlops.yaml, ready to run.

    Works offline, from the template inside the installed package.

    [bold]Examples[/bold]

      mlops init churn

      mlops init projects/fraud --name fraud-detection
    """
    from mlops.services.new_project import create

    current = session(ctx, output=output)
    project = create(directory, name)
    if current.json:
        _output.emit_json(
            {"ok": True, "root": str(project.root), "name": project.name, "files": project.files}
        )
        return
    _output.success(f"created project '{project.name}' in {directory} ({len(project.files)} files)")
    _output.stderr().print(
        f"next:\n  cd {directory}\n  pytest\n  mlops run\n  mlops models show {project.name}"
    )
