"""Binding checks the SDK's loaders let through: every `${{...}}` must name something declared."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from mlops.config.checks import did_you_mean
from mlops.errors import Issue
from mlops.pipeline.expressions import (
    references,
    references_outside_optional_blocks,
    whole_binding,
)
from mlops.pipeline.spec import RUNNABLE_TYPES, Component, Node, PipelineJob

LOCAL_UNSUPPORTED_HINT = (
    "command, pipeline, sweep and parallel steps run locally; submit this pipeline to Azure ML"
    " (`mlops run PIPELINE --env dev`), or move the step into a pipeline of its own"
)


def check_job(job: PipelineJob) -> list[Issue]:
    """Every binding, step-type and required-input problem of `job`, in file order.

    Issues of severity "warning" are what Azure ML accepts and the local run ignores.
    """
    if job.kind == "command":  # one step, bound to the job's own inputs and outputs
        (step,) = job.root.jobs.values()
        assert step.component is not None
        return list(check_command(step.component, ""))
    if job.kind == "sweep":  # one sweep step over the job's trial command
        (step,) = job.root.jobs.values()
        assert step.component is not None
        return list(check_command(step.component, "trial"))
    return list(_pipeline(job.root, prefix=""))


def check_component(component: Component) -> list[Issue]:
    """The same checks for a component file on its own (command or pipeline)."""
    if component.kind == "pipeline":
        return list(_pipeline(component, prefix="", in_component=True))
    return list(check_command(component, "command"))


def _pipeline(pipeline: Component, prefix: str, *, in_component: bool = False) -> Iterator[Issue]:
    """`in_component`: `pipeline` is a pipeline component (every level below the job is)."""
    for node in pipeline.jobs.values():
        path = f"{prefix}jobs.{node.name}"
        if node.type not in RUNNABLE_TYPES:
            yield node.where.issue(
                path,
                f"step '{node.name}' is of type {node.type}, which runs only on Azure ML",
                LOCAL_UNSUPPORTED_HINT,
            )
            continue
        if node.component is None:
            continue
        yield from _node_inputs(pipeline, node, path, nested=in_component or bool(prefix))
        yield from _node_outputs(pipeline, node, path)
        if node.component.kind == "pipeline":
            yield from _pipeline(node.component, prefix=f"{path}.component.")
        else:
            yield from check_command(node.component, path)
    yield from _cycles(pipeline, prefix)


def _node_inputs(pipeline: Component, node: Node, path: str, *, nested: bool) -> Iterator[Issue]:
    declared = node.component.inputs
    for name, value in node.inputs.items():
        where = node.input_where.get(name, node.where)
        if name not in declared:
            issue = where.issue(
                f"{path}.inputs.{name}",
                f"step '{node.name}' gives input '{name}', which its component does not declare",
                did_you_mean(name, list(declared)) or "declare it under the component's inputs",
            )
            if nested:  # the SDK accepts it inside a pipeline component; Azure ML ignores it
                issue = replace(
                    issue,
                    message=f"{issue.message}; it is ignored, as Azure ML ignores it",
                    severity="warning",
                )
            yield issue
            continue
        ref = whole_binding(value)
        if ref is None:
            continue
        problem = _input_binding_problem(pipeline, ref)
        if problem:
            yield where.issue(f"{path}.inputs.{name}", *problem)
    searched = set(node.sweep.search_space) if node.sweep is not None else set()
    for decl in declared.values():
        if decl.name in searched:
            continue  # each trial of the sweep gives it a value
        if decl.name not in node.inputs and decl.default is None and not decl.optional:
            yield node.where.issue(
                f"{path}.inputs",
                f"step '{node.name}' gives no value for required input '{decl.name}'",
                f"add `{decl.name}:` under the step's inputs, or give the input a default",
            )


def _input_binding_problem(pipeline: Component, ref: tuple[str, ...]) -> tuple[str, str] | None:
    text = "${{" + ".".join(ref) + "}}"
    if ref[:2] == ("parent", "inputs") and len(ref) == 3:
        if ref[2] in pipeline.inputs:
            return None
        return (
            f"{text} names pipeline input '{ref[2]}', which is not declared",
            did_you_mean(ref[2], list(pipeline.inputs)) or "declare it under the pipeline's inputs",
        )
    if ref[:2] == ("parent", "jobs") and len(ref) == 5 and ref[3] == "outputs":
        step = pipeline.jobs.get(ref[2])
        if step is None:
            return (
                f"{text} names step '{ref[2]}', which the pipeline does not have",
                did_you_mean(ref[2], list(pipeline.jobs)),
            )
        outputs = step.component.outputs if step.component else {}
        if step.component and ref[4] not in outputs:
            return (
                f"{text} names output '{ref[4]}', which step '{ref[2]}' does not declare",
                did_you_mean(ref[4], list(outputs)),
            )
        return None
    return (
        f"{text} is not a binding a step input can use",
        "use ${{parent.inputs.NAME}} or ${{parent.jobs.STEP.outputs.NAME}}",
    )


def _node_outputs(pipeline: Component, node: Node, path: str) -> Iterator[Issue]:
    declared = node.component.outputs
    for name, value in node.outputs.items():
        where = node.output_where.get(name, node.where)
        if name not in declared:
            yield where.issue(
                f"{path}.outputs.{name}",
                f"step '{node.name}' sets output '{name}', which its component does not declare",
                did_you_mean(name, list(declared)),
            )
            continue
        ref = whole_binding(value)
        if ref is None:
            continue
        if ref[:2] != ("parent", "outputs") or len(ref) != 3:
            yield where.issue(
                f"{path}.outputs.{name}",
                "${{" + ".".join(ref) + "}} is not a binding a step output can use",
                "use ${{parent.outputs.NAME}}",
            )
        elif ref[2] not in pipeline.outputs:
            yield where.issue(
                f"{path}.outputs.{name}",
                f"${{{{parent.outputs.{ref[2]}}}}} names pipeline output '{ref[2]}',"
                " which is not declared",
                did_you_mean(ref[2], list(pipeline.outputs))
                or "declare it under the pipeline's outputs",
            )


def check_command(component: Component, path: str) -> Iterator[Issue]:
    """Bindings of a command: declared inputs and outputs, optional ones in $[[ ]]."""
    where = component.command_where or component.where
    key = f"{path}.command" if path else "command"
    notice = component.distribution.notice if component.distribution is not None else None
    if notice:
        yield replace(
            component.where.issue(f"{path}.distribution" if path else "distribution", notice),
            severity="warning",
        )
    if not component.command.strip():
        yield where.issue(key, "the step has no command")
        return
    for ref in references(component.command):
        text = "${{" + ".".join(ref) + "}}"
        if len(ref) != 2 or ref[0] not in ("inputs", "outputs"):
            yield where.issue(
                key,
                f"{text} in the command is not ${{{{inputs.NAME}}}} or ${{{{outputs.NAME}}}}",
            )
            continue
        declared = component.inputs if ref[0] == "inputs" else component.outputs
        if ref[1] not in declared:
            yield where.issue(
                key,
                f"the command uses {text}, but '{ref[1]}' is not a declared {ref[0][:-1]}",
                did_you_mean(ref[1], list(declared)) or f"declare it under {ref[0]}",
            )
    for ref in references_outside_optional_blocks(component.command):
        decl = component.inputs.get(ref[1]) if ref[0] == "inputs" and len(ref) == 2 else None
        if decl is not None and decl.optional and decl.default is None:
            yield where.issue(
                key,
                f"optional input '{decl.name}' is used outside a $[[ ... ]] block",
                f"wrap it so the argument is dropped when absent: $[[--{decl.name}"
                f" ${{{{inputs.{decl.name}}}}}]]",
            )


def _cycles(pipeline: Component, prefix: str) -> Iterator[Issue]:
    from mlops.pipeline.graph import CycleError, order

    try:
        order(pipeline)
    except CycleError as exc:
        yield pipeline.where.issue(
            f"{prefix}jobs", f"steps depend on each other in a cycle: {' -> '.join(exc.cycle)}"
        )
