"""Azure ML CLI v2 pipeline and component YAML as plain dataclasses, with file positions.

The SDK's loaders decide what is valid (see `mlops.backends.aml_yaml`); this module reads the
same files into the shapes the local runner executes, remembering where each piece was written
so that binding errors can name `file:line`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from mlops import limits
from mlops.config.checks import printable
from mlops.errors import PipelineError, PipelineRefusedError

# the shapes live in `model`; importers of this module keep finding them here
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
        return _command_job(data, path)
    if kind == "sweep":
        return _sweep_job(data, path)
    if kind in AZURE_ONLY_JOB_TYPES:
        raise AzureOnlyError(
            f"{path.name} is of type {printable(kind)}, which cannot run on this machine",
            hint=f"submit it to Azure ML: `mlops run {path.name} --env dev`; locally run"
            " pipeline, command and sweep jobs (with command, sweep and parallel steps)",
            issues=[
                _at(data, "type", path).issue(
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


def _command_job(data: CommentedMap, path: Path) -> PipelineJob:
    return _one_step_job(data, path, _command(data, path, Where(path), inline=True), "command")


def _sweep_job(data: CommentedMap, path: Path) -> PipelineJob:
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
            issues=[_at(data, "trial", path).issue("trial", "expected a command mapping")],
        )
    sweep = parse_sweep(_plain(data), where, "")
    command = _command(trial, path, _at(data, "trial", path), inline=True)
    command.command = re.sub(
        r"\$\{\{\s*search_space\.([A-Za-z0-9_]+)\s*\}\}", r"${{inputs.\1}}", command.command
    )
    # the job's inputs and outputs are the trial's, as on Azure ML
    command.inputs = {
        name: _inline_input(name, value) for name, value in (data.get("inputs") or {}).items()
    }
    command.input_where = {name: _at(data.get("inputs"), name, path) for name in command.inputs}
    command.inputs |= {name: InputDecl(name, "any") for name in sweep.search_space}
    command.outputs = _output_declarations(data.get("outputs"))
    return _one_step_job(data, path, command, "sweep", sweep=sweep)


def _one_step_job(
    data: CommentedMap, path: Path, command: Component, kind: str, *, sweep: Any = None
) -> PipelineJob:
    """A job that is one step (command, sweep) as a pipeline of that step."""
    where = Where(path)
    step = _job_step_name(data, path)
    searched = set(sweep.search_space) if sweep is not None else set()
    # what the command does, not the values it is given: inputs are keyed on their values
    command.definition = json.dumps(
        {
            k: _plain(v)
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
        output_where={k: _at(raw_outputs, k, path) for k in raw_outputs},
        compute=_plain(data.get("compute")),
        timeout=_timeout(data.get("limits")) if sweep is None else None,
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
        input_values={name: _plain(v) for name, v in (data.get("inputs") or {}).items()},
    )
    return PipelineJob(
        path=path,
        root=root,
        experiment_name=data.get("experiment_name"),
        display_name=data.get("display_name"),
        kind=kind,
    )


def _job_step_name(data: CommentedMap, path: Path) -> str:
    """The job's `name:` when it is a usable folder name, else the file's stem."""
    name = str(data.get("name") or "")
    if name and all(c.isalnum() or c in "_-" for c in name):
        return name
    return path.stem


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
    root.input_values = {name: _plain(v) for name, v in (data.get("inputs") or {}).items()}
    return PipelineJob(
        path=path,
        root=root,
        experiment_name=data.get("experiment_name"),
        display_name=data.get("display_name"),
    )


def load_component(path: Path) -> Component:
    """Read a component file (command or pipeline) on its own."""
    return _component(read_yaml(path), path, Where(path), (path.resolve(),))


def read_yaml(path: Path) -> CommentedMap:
    """The mapping in an Azure ML YAML file, read within the limits of `mlops.limits`.

    Raises PipelineRefusedError for a file too large, too deep or not UTF-8, and
    PipelineError for one that is missing, unreadable or not a YAML mapping.
    """
    from mlops.config import display_path

    shown = display_path(path)
    try:
        text = limits.read_text(
            path,
            shown,
            limits.MAX_AML_YAML_BYTES,
            PipelineRefusedError,
            "Azure ML YAML describes jobs and components: keep data in the files inputs name",
        )
        data = limits.load_yaml(text, shown, PipelineRefusedError)
    except FileNotFoundError:
        raise PipelineError(f"{shown} does not exist") from None
    except OSError as exc:
        raise PipelineError(f"cannot read {shown}: {exc.strerror or exc}") from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PipelineError(
            f"{shown} is not valid YAML",
            issues=[
                Where(path, mark.line + 1, mark.column + 1).issue(
                    "", f"YAML syntax error: {problem}"
                )
                if mark
                else Where(path).issue("", f"YAML syntax error: {problem}")
            ],
        ) from None
    if not isinstance(data, dict):
        raise PipelineError(
            f"{shown} does not hold a YAML mapping",
            issues=[Where(path).issue("", "expected a mapping at the top level")],
        )
    return data


def _at(node: Any, key: Any, file: Path) -> Where:
    try:
        line, column = node.lc.key(key)
        return Where(file, line + 1, column + 1)
    except (AttributeError, KeyError, TypeError):
        lc = getattr(node, "lc", None)
        return Where(file, (lc.line + 1) if lc else 1, (lc.col + 1) if lc else 1)


def _plain(value: Any) -> Any:
    """ruamel's round-trip types as plain dicts, lists and scalars."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _declarations(data: Any, file: Path) -> tuple[dict[str, InputDecl], dict[str, Where]]:
    decls, where = {}, {}
    for name, spec in (data or {}).items():
        where[name] = _at(data, name, file)
        if isinstance(spec, dict):
            decls[name] = InputDecl(
                name,
                str(spec.get("type", "string")),
                _plain(spec.get("default", spec.get("value", spec.get("path")))),
                bool(spec.get("optional", False)),
            )
        else:
            decls[name] = InputDecl(name, _literal_type(spec), _plain(spec))
    return decls, where


def _literal_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _output_declarations(data: Any) -> dict[str, OutputDecl]:
    outputs = {}
    for name, spec in (data or {}).items():
        kind = spec.get("type", "uri_folder") if isinstance(spec, dict) else "uri_folder"
        path = spec.get("path") if isinstance(spec, dict) else None
        outputs[name] = OutputDecl(name, str(kind), None if path is None else str(path))
    return outputs


#: the component files being read, outermost first: a file already in it uses itself
Chain = tuple[Path, ...]


def _pipeline(data: CommentedMap, file: Path, where: Where, chain: Chain) -> Component:
    inputs, input_where = _declarations(data.get("inputs"), file)
    component = Component(
        kind="pipeline",
        source=file,
        where=where,
        name=data.get("name"),
        inputs=inputs,
        input_where=input_where,
        outputs=_output_declarations(data.get("outputs")),
        settings=_plain(data.get("settings") or {}),
    )
    jobs = data.get("jobs") or {}
    component.jobs = {
        name: _node(name, jobs[name], file, _at(jobs, name, file), chain) for name in jobs
    }
    return component


def _command(data: CommentedMap, file: Path, where: Where, *, inline: bool) -> Component:
    if inline:  # an inline step declares its inputs by giving them values
        inputs = {
            name: _inline_input(name, value) for name, value in (data.get("inputs") or {}).items()
        }
        input_where = {name: _at(data.get("inputs"), name, file) for name in inputs}
    else:
        inputs, input_where = _declarations(data.get("inputs"), file)
    code = data.get("code")
    definition = {k: _plain(v) for k, v in data.items() if k not in ("code", "display_name")}
    distribution = _distribution(data, file, where)
    return Component(
        kind="command",
        source=file,
        where=where,
        name=data.get("name"),
        inputs=inputs,
        input_where=input_where,
        outputs=_output_declarations(data.get("outputs")),
        command=str(data.get("command") or ""),
        command_where=_at(data, "command", file) if "command" in data else where,
        code=_code_folder(data, file) if code and _is_local(code) else None,
        environment=_plain(data.get("environment")) if data.get("environment") else None,
        environment_variables={
            str(k): str(v) for k, v in (data.get("environment_variables") or {}).items()
        },
        is_deterministic=bool(data.get("is_deterministic", True)),
        definition=json.dumps(definition, sort_keys=True, default=str),
        distribution=distribution,
    )


def _distribution(data: CommentedMap, file: Path, where: Where) -> Any:
    """`distribution:` of a command, parsed; refused now when this machine cannot launch it."""
    if not data.get("distribution"):
        return None
    from mlops.pipeline.distribution import mpi_available, parse_distribution

    at = _at(data, "distribution", file)
    distribution = parse_distribution(
        _plain(data.get("distribution")), _plain(data.get("resources")), at, "distribution"
    )
    if distribution is not None and distribution.type == "mpi" and not mpi_available():
        raise PipelineError(
            f"{file.name}: an mpi distribution needs `mpirun`, which this machine lacks",
            hint="install Open MPI (e.g. `apt-get install openmpi-bin`), or submit the job to"
            " Azure ML: `--env dev`",
            issues=[at.issue("distribution.type", "mpi jobs are launched with mpirun")],
        )
    return distribution


def _parallel(
    data: CommentedMap, file: Path, where: Where, *, inline: bool, path: str = ""
) -> Component:
    """A parallel step as the command that runs its driver (`drivers/parallel.py`) over the
    mini-batches, in the task's environment and code folder."""
    from mlops.pipeline.parallel import driver_command, parse_parallel

    spec = parse_parallel(_plain(data), file, where, path)
    if inline:
        inputs = {
            name: _inline_input(name, value) for name, value in (data.get("inputs") or {}).items()
        }
        input_where = {name: _at(data.get("inputs"), name, file) for name in inputs}
    else:
        inputs, input_where = _declarations(data.get("inputs"), file)
    task = data.get("task") if isinstance(data.get("task"), dict) else {}
    definition = {k: _plain(v) for k, v in data.items() if k not in ("display_name",)}
    return Component(
        kind="command",
        source=file,
        where=where,
        name=data.get("name"),
        inputs=inputs,
        input_where=input_where,
        outputs=_output_declarations(data.get("outputs")),
        command=driver_command(spec),
        command_where=_at(data, "task", file) if task else where,
        code=spec.code,
        environment=spec.environment,
        environment_variables=dict(spec.environment_variables),
        is_deterministic=bool(data.get("is_deterministic", True)),
        definition=json.dumps(definition, sort_keys=True, default=str),
        drivers=True,
    )


def _code_folder(data: CommentedMap, file: Path) -> Path:
    """The local folder `code:` names, relative to `file`."""
    try:
        return (file.parent / str(data["code"])).resolve()
    except (OSError, ValueError):  # a NUL byte, a name too long, a symlink loop
        raise PipelineError(
            f"{file.name} names a code folder that cannot exist",
            issues=[
                _at(data, "code", file).issue(
                    "code", f"'{printable(data['code'])}' is not a usable path"
                )
            ],
        ) from None


def _inline_input(name: str, value: Any) -> InputDecl:
    if isinstance(value, dict):
        return InputDecl(name, str(value.get("type", "uri_folder")), _plain(value.get("path")))
    if isinstance(value, str) and "${{" in value:
        return InputDecl(name, "any")
    return InputDecl(name, _literal_type(value), _plain(value))


def _is_local(code: Any) -> bool:
    text = str(code)
    return not text.startswith(("azureml:", "git+", "http://", "https://"))


def _node(name: str, data: Any, file: Path, where: Where, chain: Chain) -> Node:
    if not isinstance(data, dict):
        return Node(name, "invalid", where, None)
    kind = str(data.get("type", "command"))
    node = Node(
        name=name,
        type=kind,
        where=where,
        component=None,
        inputs={k: _plain(v) for k, v in (data.get("inputs") or {}).items()},
        outputs={k: _plain(v) for k, v in (data.get("outputs") or {}).items()},
        input_where={k: _at(data.get("inputs"), k, file) for k in data.get("inputs") or {}},
        output_where={k: _at(data.get("outputs"), k, file) for k in data.get("outputs") or {}},
        compute=_plain(data.get("compute")),
        timeout=_timeout(data.get("limits")),
    )
    if kind not in RUNNABLE_TYPES:
        return node
    reference = data.get("component")
    if kind == "sweep":
        from mlops.pipeline.sweep import parse_sweep

        node.sweep = parse_sweep(_plain(data), where, f"jobs.{name}")
        reference = data.get("trial")
        if reference is None:
            raise PipelineError(
                f"sweep step '{printable(name)}' names no `trial:` component",
                issues=[where.issue(f"jobs.{printable(name)}.trial", "expected a component")],
            )
    if reference is None and kind == "parallel":
        node.component = _parallel(data, file, where, inline=True, path=f"jobs.{name}")
    elif reference is None and kind == "command":
        node.component = _command(data, file, where, inline=True)
    elif isinstance(reference, dict):
        node.component = _component(reference, file, where, chain)
    elif isinstance(reference, str) and _is_local(reference):
        component_file = _local_file(file, reference)
        if component_file is None:
            raise PipelineError(
                f"step '{printable(name)}' refers to a component file that does not exist",
                issues=[
                    _at(data, "component", file).issue(
                        f"jobs.{printable(name)}.component",
                        f"{printable(reference)} does not exist",
                    )
                ],
            )
        _refuse_recursion(component_file, chain, _at(data, "component", file), name)
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
                _at(data, "component", file).issue(
                    f"jobs.{name}.component",
                    f"'{reference}' is a registered component",
                    "point `component:` at the component's YAML file so it runs everywhere",
                )
            ],
        )
    return node


def _timeout(limits: Any) -> float | None:
    """`limits.timeout` of a command step, in seconds (the SDK's loader has checked its type)."""
    value = limits.get("timeout") if isinstance(limits, dict) else None
    return float(value) if isinstance(value, int | float) and value > 0 else None


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
        return _parallel(data, file, where, inline=False)
    if data.get("type", "command") == "pipeline":
        return _pipeline(data, file, where, chain)
    return _command(data, file, where, inline=False)
