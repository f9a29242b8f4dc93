"""`mlops config`: validate, show and describe mlops.yaml."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from mlops.cli import _output
from mlops.cli._options import ConfigOption, OutputOption, session

app = typer.Typer(
    no_args_is_help=True,
    help="Check and inspect mlops.yaml, the one source of truth.",
)


@app.command()
def validate(ctx: typer.Context, config: ConfigOption = None, output: OutputOption = None) -> None:
    """Check mlops.yaml: types, unknown keys, GUIDs, subnets, Azure name rules, references.

    In a model repository bound to a platform (`platform:`), its file and the platform's are
    checked together: the team exists and owns this repository. Every problem is reported
    as file:line:column with the field path and a hint;
    exit code 2 when there is any error.

    [bold]Examples[/bold]

      mlops config validate

      mlops config validate --config path/to/mlops.yaml --output json
    """
    from mlops.config import display_path
    from mlops.config.loader import display_near

    current = session(ctx, config=config, output=output)
    loaded = current.load()
    c = loaded.config
    shown = display_path(loaded.path)
    platform = display_near(loaded.platform.path) if loaded.platform else None
    if current.json:
        bound = {"platform": {"file": platform, "team": c.platform.team}} if c.platform else {}
        _output.emit_json(
            {
                "ok": True,
                "file": shown,
                "project": c.project.name,
                **bound,
                "teams": list(c.teams) if not c.platform else [],
                "environments": c.environments.names,
                "warnings": [w.to_dict() for w in loaded.warnings],
            }
        )
        return
    _output.issues(loaded.warnings)
    team = f" of team '{c.platform.team}' on the platform {platform}" if c.platform else ""
    _output.success(
        f"{shown} is valid: project '{c.project.name}'{team}, "
        f"environments {', '.join(c.environments.names)}"
    )


@app.command()
def show(ctx: typer.Context, config: ConfigOption = None, output: OutputOption = None) -> None:
    """Print the effective config: what you wrote, with every default filled in (in a model
    repository bound to a platform: the platform's sections merged with its own), then the
    Azure names derived from it (per environment: resource group, workspace, online endpoint
    unique in its region, ...), as comments, or under `derived_names` in JSON.

    [bold]Examples[/bold]

      mlops config show

      mlops config show --output json | jq .environments
    """
    from dataclasses import asdict

    from mlops.config import display_path

    current = session(ctx, config=config, output=output)
    current_loaded = current.load()
    loaded = current_loaded.config
    effective = loaded.model_dump(mode="json")
    derived = {env: asdict(loaded.environment_names(env)) for env in loaded.environments.azure}
    derived["shared"] = asdict(loaded.shared_names())
    if current.json:
        _output.emit_json({**effective, "derived_names": derived})
    else:
        from mlops.config.loader import display_near
        from mlops.serialize import dump_yaml

        names = dump_yaml({"derived_names": derived}).splitlines()
        origin = (
            f"# platform sections from {display_near(current_loaded.platform.path)}, project"
            f" sections from {display_path(current_loaded.path)}\n"
            if current_loaded.platform
            else ""
        )
        _output.emit_text(
            origin
            + dump_yaml(effective)
            + "\n# names derived from the settings above (not settings themselves):\n"
            + "\n".join(f"# {line}" for line in names)
            + "\n"
        )


class SchemaFormat(StrEnum):
    json = "json"
    markdown = "markdown"


@app.command()
def schema(
    format: Annotated[
        SchemaFormat, typer.Option("--format", "-f", help="json: JSON Schema; markdown: reference.")
    ] = SchemaFormat.json,
) -> None:
    """Print the JSON Schema of mlops.yaml (for editors and scripts), or a Markdown reference.

    The repository commits the schema as schemas/mlops.schema.json, and the README embeds the
    reference; regenerate them with:

      mlops config schema > schemas/mlops.schema.json

      mlops config schema --format markdown
    """
    from mlops.config.jsonschema import reference_markdown, schema_text

    _output.emit_text(schema_text() if format is SchemaFormat.json else reference_markdown())
