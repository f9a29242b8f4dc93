"""Jobs that are one step, run as a pipeline of that step: a command job, and a sweep job
over its `trial:` command."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from mlops.errors import PipelineError
from mlops.pipeline.commands import command_component
from mlops.pipeline.model import Component, InputDecl, Node, PipelineJob, Where
from mlops.pipeline.reading import at, limits_timeout, output_declarations, plain, step_inputs


def command_job(data: CommentedMap, path: Path) -> PipelineJob:
    return one_step_job(
        data, path, command_component(data, path, Where(path), inline=True), "command"
    )


def sweep_job(data: CommentedMap, path: Path) -> PipelineJob:
    """A sweep job as a one-step pipeline whose step is a sweep over its `trial:` command.

    The trial's `${{search_space.K}}` become inputs K of the step, which each trial fills
    with its sampled values; the SDK does the reverse when it submits a pipeline's sweep.
    """
    from mlops.pipeline.sweep import parse_sweep

    where = Where(path)
    trial = data.get("trial")
    if not isinstance(trial, dict):
        raise PipelineError(
            f"{path.name}: a sweep job needs a `trial:` with the command each trial runs",
            issues=[at(data, "trial", path).issue("trial", "expected a command mapping")],
        )
    sweep = parse_sweep(plain(data), where, "")
    command = command_component(trial, path, at(data, "trial", path), inline=True)
    command.command = re.sub(
        r"\$\{\{\s*search_space\.([A-Za-z0-9_]+)\s*\}\}", r"${{inputs.\1}}", command.command
    )
    # the job's inputs and outputs are the trial's, as on Azure ML
    command.inputs, command.input_where = step_inputs(data, path, inline=True)
    command.inputs |= {name: InputDecl(name, "any") for name in sweep.search_space}
    command.outputs = output_declarations(data.get("outputs"))
    return one_step_job(data, path, command, "sweep", sweep=sweep)


def one_step_job(
    data: CommentedMap, path: Path, command: Component, kind: str, *, sweep: Any = None
) -> PipelineJob:
    """A job that is one step (command, sweep) as a pipeline of that step."""
    where = Where(path)
    step = job_step_name(data, path)
    searched = set(sweep.search_space) if sweep is not None else set()
    # what the command does, not the values it is given: inputs are keyed on their values
    command.definition = json.dumps(
        {
            k: plain(v)
            for k, v in data.items()
            if k not in ("code", "display_name", "experiment_name", "name", "description", "tags")
        }
        | {"inputs": {n: d.type for n, d in command.inputs.items()}},
        sort_keys=True,
        default=str,
    )
    raw_outputs = data.get("outputs") or {}
    node = Node(
        name=step,
        type=kind,
        where=where,
        component=command,
        inputs={
            name: f"${{{{parent.inputs.{name}}}}}"
            for name in command.inputs
            if name not in searched
        },
        outputs={name: f"${{{{parent.outputs.{name}}}}}" for name in command.outputs},
        input_where=dict(command.input_where),
        output_where={k: at(raw_outputs, k, path) for k in raw_outputs},
        compute=plain(data.get("compute")),
        timeout=limits_timeout(data.get("limits")) if sweep is None else None,
        sweep=sweep,
    )
    root = Component(
        kind="pipeline",
        source=path,
        where=where,
        name=data.get("name"),
        inputs={k: v for k, v in command.inputs.items() if k not in searched},
        input_where=dict(command.input_where),
        outputs=dict(command.outputs),
        jobs={step: node},
        input_values={name: plain(v) for name, v in (data.get("inputs") or {}).items()},
    )
    return PipelineJob(
        path=path,
        root=root,
        experiment_name=data.get("experiment_name"),
        display_name=data.get("display_name"),
        kind=kind,
    )


def job_step_name(data: CommentedMap, path: Path) -> str:
    """The job's `name:` when it is a usable folder name, else the file's stem."""
    name = str(data.get("name") or "")
    if name and all(c.isalnum() or c in "_-" for c in name):
        return name
    return path.stem
