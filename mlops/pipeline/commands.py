"""Command-like components: a command (with its `distribution:`), and a parallel step, which
runs as the command of its driver over the mini-batches."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from mlops.config.checks import printable
from mlops.errors import PipelineError
from mlops.pipeline.model import Component, Where
from mlops.pipeline.reading import (
    at,
    output_declarations,
    plain,
    step_inputs,
)


def command_component(data: CommentedMap, file: Path, where: Where, *, inline: bool) -> Component:
    inputs, input_where = step_inputs(data, file, inline=inline)
    code = data.get("code")
    definition = {k: plain(v) for k, v in data.items() if k not in ("code", "display_name")}
    distribution = distribution_of(data, file, where)
    return Component(
        kind="command",
        source=file,
        where=where,
        name=data.get("name"),
        inputs=inputs,
        input_where=input_where,
        outputs=output_declarations(data.get("outputs")),
        command=str(data.get("command") or ""),
        command_where=at(data, "command", file) if "command" in data else where,
        code=code_folder(data, file) if code and is_local(code) else None,
        environment=plain(data.get("environment")) if data.get("environment") else None,
        environment_variables={
            str(k): str(v) for k, v in (data.get("environment_variables") or {}).items()
        },
        is_deterministic=bool(data.get("is_deterministic", True)),
        definition=json.dumps(definition, sort_keys=True, default=str),
        distribution=distribution,
    )


def distribution_of(data: CommentedMap, file: Path, where: Where) -> Any:
    """`distribution:` of a command, parsed; refused now when this machine cannot launch it."""
    if not data.get("distribution"):
        return None
    from mlops.pipeline.distribution import mpi_available, parse_distribution

    located = at(data, "distribution", file)
    distribution = parse_distribution(
        plain(data.get("distribution")), plain(data.get("resources")), located, "distribution"
    )
    if distribution is not None and distribution.type == "mpi" and not mpi_available():
        raise PipelineError(
            f"{file.name}: an mpi distribution needs `mpirun`, which this machine lacks",
            hint="install Open MPI (e.g. `apt-get install openmpi-bin`), or submit the job to"
            " Azure ML: `--env dev`",
            issues=[located.issue("distribution.type", "mpi jobs are launched with mpirun")],
        )
    return distribution


def parallel_component(
    data: CommentedMap, file: Path, where: Where, *, inline: bool, path: str = ""
) -> Component:
    """A parallel step as the command that runs its driver (`drivers/parallel.py`) over the
    mini-batches, in the task's environment and code folder."""
    from mlops.pipeline.parallel import driver_command, parse_parallel

    spec = parse_parallel(plain(data), file, where, path)
    inputs, input_where = step_inputs(data, file, inline=inline)
    task = data.get("task") if isinstance(data.get("task"), dict) else {}
    definition = {k: plain(v) for k, v in data.items() if k not in ("display_name",)}
    return Component(
        kind="command",
        source=file,
        where=where,
        name=data.get("name"),
        inputs=inputs,
        input_where=input_where,
        outputs=output_declarations(data.get("outputs")),
        command=driver_command(spec),
        command_where=at(data, "task", file) if task else where,
        code=spec.code,
        environment=spec.environment,
        environment_variables=dict(spec.environment_variables),
        is_deterministic=bool(data.get("is_deterministic", True)),
        definition=json.dumps(definition, sort_keys=True, default=str),
        drivers=True,
    )


def code_folder(data: CommentedMap, file: Path) -> Path:
    """The local folder `code:` names, relative to `file`."""
    try:
        return (file.parent / str(data["code"])).resolve()
    except (OSError, ValueError):  # a NUL byte, a name too long, a symlink loop
        raise PipelineError(
            f"{file.name} names a code folder that cannot exist",
            issues=[
                at(data, "code", file).issue(
                    "code", f"'{printable(data['code'])}' is not a usable path"
                )
            ],
        ) from None


def is_local(code: Any) -> bool:
    text = str(code)
    return not text.startswith(("azureml:", "git+", "http://", "https://"))
