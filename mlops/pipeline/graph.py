"""Dependencies between the steps of one pipeline, from their `parent.jobs` bindings."""

from __future__ import annotations

from graphlib import CycleError as _GraphCycle
from graphlib import TopologicalSorter

from mlops.pipeline.expressions import whole_binding
from mlops.pipeline.spec import Component


class CycleError(Exception):
    def __init__(self, cycle: list[str]) -> None:
        super().__init__(" -> ".join(cycle))
        self.cycle = cycle


def upstream(pipeline: Component, step: str) -> set[str]:
    """The steps of `pipeline` whose outputs `step` consumes."""
    node = pipeline.jobs[step]
    names = set()
    for value in node.inputs.values():
        ref = whole_binding(value)
        if ref and ref[:2] == ("parent", "jobs") and len(ref) > 2 and ref[2] in pipeline.jobs:
            names.add(ref[2])
    return names


def order(pipeline: Component) -> list[str]:
    """The steps in an order where each comes after the steps it consumes."""
    sorter = TopologicalSorter({name: upstream(pipeline, name) for name in pipeline.jobs})
    try:
        return list(sorter.static_order())
    except _GraphCycle as exc:
        raise CycleError([str(n) for n in exc.args[1]]) from None
