"""Azure ML CLI v2 pipeline and component YAML as plain dataclasses, with file positions.

The SDK's loaders decide what is valid (see `mlops.backends.aml_yaml`); this module reads the
same files into the shapes the local runner executes, remembering where each piece was written
so that binding errors can name `file:line`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from mlops import limits
from mlops.config.checks import printable
from mlops.errors import PipelineError, PipelineRefusedError

# the shapes live in `model`; importers of this module keep finding them here
from mlops.pipeline.commands import command_component, is_local, parallel_component
from mlops.pipeline.model import (
    DATA_TYPES,
    LITERAL_TYPES,
    RUNNABLE_TYPES,
    Component,
    InputDecl,
    Node,
    OutputDecl,
    PipelineJob,
    Where,
)
from mlops.pipeline.one_step import command_job, sweep_job
from mlops.pipeline.reading import (
    at,
    declarations,
    limits_timeout,
    output_declarations,
    plain,
    read_yaml,
)

__all__ = [
    "AZURE_ONLY_JOB_TYPES",
    "DATA_TYPES",
    "LITERAL_TYPES",
    "RUNNABLE_TYPES",
    "AzureOnlyError",
    "Component",
    "InputDecl",
    "Node",
    "OutputDecl",
    "PipelineJob",
    "Where",
    "load_component",
    "load_job",
    "load_pipeline_job",
    "read_yaml",
]


def load_job(path: Path) -> PipelineJob:
    """Read a pipeline job or a command job file; a command job becomes a one-step pipeline.

    The command job's inputs become the pipeline's inputs, bound to the one step of the
    same name; its outputs become the pipeline's outputs. The step is named after the job
    (`name:`, else the file name), so its outputs and MLflow child run are where a one-step
    pipeline's would be.
    """
    data = read_yaml(path)
    if is_component_file(data):
        kind = "pipeline component" if data.get("type") == "pipeline" else "command component"
        raise NotAJobError(
            f"{path.name} is a {kind}, not a job",
            hint="run the pipeline job that uses it; a file to run on its own is a pipeline job"
            " or a command job (its $schema names pipelineJob or commandJob)",
            issues=[Where(path).issue("$schema", f"this file is a {kind}, not a job")],
        )
    kind = data.get("type")
    if kind == "command" or (kind is None and "command" in data):  # command: Azure's default
        return command_job(data, path)
    if kind == "sweep":
        return sweep_job(data, path)
    if kind in AZURE_ONLY_JOB_TYPES:
        raise AzureOnlyError(
            f"{path.name} is of type {printable(kind)}, which cannot run on this machine",
            hint=f"submit it to Azure ML: `mlops run {path.name} --env dev`; locally run"
            " pipeline, command and sweep jobs (with command, sweep and parallel steps)",
            issues=[
                at(data, "type", path).issue(
                    "type", f"'{printable(kind)}' jobs run only on Azure ML"
                )
            ],
        )
    if kind is None:
        raise NotAJobError(
            f"{path.name} is not an Azure ML job: it has no `type:` and no `command:`",
            hint="pass a pipeline job (type: pipeline) or a command job (type: command)",
            issues=[Where(path).issue("type", "expected 'type: pipeline' or 'type: command'")],
        )
    return load_pipeline_job(path)


class NotAJobError(PipelineError):
    """A component file given where a job file is expected."""


class AzureOnlyError(PipelineError):
    """A job of a type only Azure ML runs (AutoML, Spark, ...): refused before the SDK reads
    it, since nothing it could say changes that."""


#: Azure ML job types (the SDK's `JobType`) that have no local equivalent
AZURE_ONLY_JOB_TYPES = ("automl", "spark", "import", "data_transfer", "finetuning", "distillation")


def is_component_file(data: CommentedMap) -> bool:
    """Whether the file's `$schema` names a component (a command or pipeline component)."""
    return "Component" in str(data.get("$schema", ""))


def load_pipeline_job(path: Path) -> PipelineJob:
    """Read a pipeline job file and every component file it references.

    Raises PipelineRefusedError, before any other check, for a file over the limits of
    `mlops.limits` and for component files that use themselves, directly or in a cycle.
    """
    data = read_yaml(path)
    where = Where(path)
    if data.get("type") != "pipeline":
        raise PipelineError(
            f"{path.name} is not a pipeline job",
            issues=[where.issue("type", f"expected 'type: pipeline', got {data.get('type')!r}")],
        )
    root = _pipeline(data, path, where, (path.resolve(),))
    root.input_values = {name: plain(v) for name, v in (data.get("inputs") or {}).items()}
    return PipelineJob(
        path=path,
        root=root,
        experiment_name=data.get("experiment_name"),
        display_name=data.get("display_name"),
    )


def load_component(path: Path) -> Component:
    """Read a component file (command or pipeline) on its own."""
    return _component(read_yaml(path), path, Where(path), (path.resolve(),))


#: the component files being read, outermost first: a file already in it uses itself
Chain = tuple[Path, ...]


def _pipeline(data: CommentedMap, file: Path, where: Where, chain: Chain) -> Component:
    inputs, input_where = declarations(data.get("inputs"), file)
    component = Component(
        kind="pipeline",
        source=file,
        where=where,
        name=data.get("name"),
        inputs=inputs,
        input_where=input_where,
        outputs=output_declarations(data.get("outputs")),
        settings=plain(data.get("settings") or {}),
    )
    jobs = data.get("jobs") or {}
    component.jobs = {
        name: _node(name, jobs[name], file, at(jobs, name, file), chain) for name in jobs
    }
    return component


def _node(name: str, data: Any, file: Path, where: Where, chain: Chain) -> Node:
    if not isinstance(data, dict):
        return Node(name, "invalid", where, None)
    kind = str(data.get("type", "command"))
    node = Node(
        name=name,
        type=kind,
        where=where,
        component=None,
        inputs={k: plain(v) for k, v in (data.get("inputs") or {}).items()},
        outputs={k: plain(v) for k, v in (data.get("outputs") or {}).items()},
        input_where={k: at(data.get("inputs"), k, file) for k in data.get("inputs") or {}},
        output_where={k: at(data.get("outputs"), k, file) for k in data.get("outputs") or {}},
        compute=plain(data.get("compute")),
        timeout=limits_timeout(data.get("limits")),
    )
    if kind not in RUNNABLE_TYPES:
        return node
    reference = data.get("component")
    if kind == "sweep":
        from mlops.pipeline.sweep import parse_sweep

        node.sweep = parse_sweep(plain(data), where, f"jobs.{name}")
        reference = data.get("trial")
        if reference is None:
            raise PipelineError(
                f"sweep step '{printable(name)}' names no `trial:` component",
                issues=[where.issue(f"jobs.{printable(name)}.trial", "expected a component")],
            )
    if reference is None and kind == "parallel":
        node.component = parallel_component(data, file, where, inline=True, path=f"jobs.{name}")
    elif reference is None and kind == "command":
        node.component = command_component(data, file, where, inline=True)
    elif isinstance(reference, dict):
        node.component = _component(reference, file, where, chain)
    elif isinstance(reference, str) and is_local(reference):
        component_file = _local_file(file, reference)
        if component_file is None:
            raise PipelineError(
                f"step '{printable(name)}' refers to a component file that does not exist",
                issues=[
                    at(data, "component", file).issue(
                        f"jobs.{printable(name)}.component",
                        f"{printable(reference)} does not exist",
                    )
                ],
            )
        _refuse_recursion(component_file, chain, at(data, "component", file), name)
        node.component = _component(
            read_yaml(component_file),
            component_file,
            Where(component_file),
            (*chain, component_file),
        )
    elif reference is not None:
        raise PipelineError(
            f"step '{name}' uses a registered component, which cannot run locally",
            issues=[
                at(data, "component", file).issue(
                    f"jobs.{name}.component",
                    f"'{reference}' is a registered component",
                    "point `component:` at the component's YAML file so it runs everywhere",
                )
            ],
        )
    return node


def _local_file(file: Path, reference: str) -> Path | None:
    """The component file `reference` names, relative to `file`; None when there is none."""
    try:
        path = (file.parent / reference.removeprefix("file:")).resolve()
        return path if path.is_file() else None
    except (OSError, ValueError):  # a NUL byte, a name too long, a symlink loop
        return None


def _refuse_recursion(component_file: Path, chain: Chain, where: Where, step: str) -> None:
    """Refuse a component file that uses itself (directly or in a cycle) or nests too deep:
    reading it would never end, and neither would Azure ML's loaders."""
    from mlops.config import display_path

    path = f"jobs.{printable(step)}.component"
    if component_file in chain:
        cycle = " -> ".join(
            display_path(p) for p in (*chain[chain.index(component_file) :], component_file)
        )
        raise PipelineRefusedError(
            f"component files use each other in a cycle: {cycle}",
            hint="a pipeline component cannot run itself, directly or through other components",
            issues=[
                where.issue(
                    path,
                    f"component files use each other in a cycle: {cycle}",
                    "point `component:` at a component that does not lead back to this file",
                )
            ],
        )
    if len(chain) > limits.MAX_COMPONENT_NESTING:
        problem = (
            f"pipeline components nest more than {limits.MAX_COMPONENT_NESTING} files deep,"
            " the limit"
        )
        raise PipelineRefusedError(
            f"{display_path(chain[0])} was refused: {problem}",
            hint="flatten the pipeline: use fewer layers of pipeline components",
            issues=[where.issue(path, problem, "flatten the pipeline")],
        )


def _component(data: CommentedMap, file: Path, where: Where, chain: Chain) -> Component:
    if data.get("type") == "parallel":
        return parallel_component(data, file, where, inline=False)
    if data.get("type", "command") == "pipeline":
        return _pipeline(data, file, where, chain)
    return command_component(data, file, where, inline=False)
