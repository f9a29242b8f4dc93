"""Options shared by every command, as `Annotated` aliases, and the per-invocation session."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from mlops.config import LoadedConfig


class Output(StrEnum):
    """How results are printed: a table for people, JSON on stdout for scripts."""

    table = "table"
    json = "json"


_CONFIG_HELP = "mlops.yaml to use. Default: the nearest mlops.yaml in this folder or above."
_OUTPUT_HELP = "table for people, json (on stdout) for scripts."

RootConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar="MLOPS_CONFIG",
        help=_CONFIG_HELP,
        dir_okay=False,
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help=_CONFIG_HELP, dir_okay=False, show_default=False),
]
RootOutputOption = Annotated[
    Output, typer.Option("--output", "-o", help=_OUTPUT_HELP, case_sensitive=False)
]
OutputOption = Annotated[
    Output | None,
    typer.Option("--output", "-o", help=_OUTPUT_HELP, case_sensitive=False, show_default=False),
]
EnvModeOption = Annotated[
    str | None,
    typer.Option(
        "--env-mode",
        help="Locally: isolated (each step in the environment its component declares, the local"
        " server in deployment.environment, each built once with uv and cached) or current"
        " (all in this CLI's environment). Default: $MLOPS_ENV_MODE, else isolated.",
        show_default=False,
    ),
]
ServingEnvModeOption = Annotated[
    str | None,
    typer.Option(
        "--env-mode",
        help="Locally: isolated (the server runs in deployment.environment, built once with uv"
        " and cached, as the deployment's image holds it) or current (this CLI's environment)."
        " Default: $MLOPS_ENV_MODE, else isolated.",
        show_default=False,
    ),
]
VerboseOption = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="More detail on stderr (-vv: debug).")
]


@dataclass
class Session:
    """What the global options chose; commands may override config and output."""

    config_path: Path | None = None
    output: Output = Output.table
    verbose: int = 0

    @property
    def json(self) -> bool:
        return self.output is Output.json

    def load(self) -> LoadedConfig:
        """The validated config (raises ConfigError with every problem found)."""
        from mlops.config import find_config, load_config

        return load_config(self.config_path or find_config())


def session(
    ctx: typer.Context, *, config: Path | None = None, output: Output | None = None
) -> Session:
    """The invocation's session, with a command's own --config/--output taking precedence."""
    current = ctx.ensure_object(Session)
    if config is not None:
        current.config_path = config
    if output is not None:
        current.output = output
    return current
