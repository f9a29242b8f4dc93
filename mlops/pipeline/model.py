"""The shapes the local runner executes: jobs, components, steps and their declarations,
each remembering where it was written (`Where`) so that errors can name `file:line`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops.errors import Issue

LITERAL_TYPES = ("string", "integer", "number", "boolean")
DATA_TYPES = ("uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model")
#: step types the local runner runs; any other (automl, spark, ...) is refused before a step
RUNNABLE_TYPES = ("command", "pipeline", "sweep", "parallel")


@dataclass(frozen=True)
class Where:
    """A place in a YAML file (1-based line and column)."""

    file: Path
    line: int = 1
    column: int = 1

    def issue(self, path: str, message: str, hint: str | None = None) -> Issue:
        from mlops.config import display_path

        return Issue(path, message, hint, display_path(self.file), self.line, self.column)


@dataclass(frozen=True)
class InputDecl:
    name: str
    type: str
    default: Any = None
    optional: bool = False


@dataclass(frozen=True)
class OutputDecl:
    name: str
    type: str = "uri_folder"
    path: str | None = None  # `path:` as written, e.g. azureml://datastores/NAME/paths/...


@dataclass
class Component:
    """A command component (runs a command) or a pipeline component (runs jobs)."""

    kind: str
    source: Path
    where: Where
    name: str | None = None
    inputs: dict[str, InputDecl] = field(default_factory=dict)
    outputs: dict[str, OutputDecl] = field(default_factory=dict)
    command: str = ""
    code: Path | None = None
    #: `environment:` as written: a reference string, or an inline mapping (`image`,
    #: `conda_file`, `build`) whose relative paths are relative to `source`'s folder
    environment: Any = None
    environment_variables: dict[str, str] = field(default_factory=dict)
    is_deterministic: bool = True
    definition: str = ""
    jobs: dict[str, Node] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    input_values: dict[str, Any] = field(default_factory=dict)  # a pipeline job's own inputs
    input_where: dict[str, Where] = field(default_factory=dict)
    command_where: Where | None = None
    #: `distribution:` parsed (mlops.pipeline.distribution.Distribution): ranks to launch
    distribution: Any = None
    #: the command runs a module of mlops_local_drivers (a parallel step's driver)
    drivers: bool = False

    @property
    def uses_drivers(self) -> bool:
        """Whether the step needs the copy of `mlops.backends.local.drivers` on its path."""
        return self.drivers or self.distribution is not None

    @property
    def environment_definition(self) -> Any:
        """The raw `environment:` value, for `mlops.environments.resolve`."""
        return self.environment

    @property
    def environment_text(self) -> str:
        """`environment:` in one line, for display and the `mlops.environment` tag."""
        if self.environment is None:
            return ""
        if isinstance(self.environment, str):
            return self.environment
        return json.dumps(self.environment, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class Node:
    """One entry of a pipeline's `jobs:`."""

    name: str
    type: str
    where: Where
    component: Component | None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    input_where: dict[str, Where] = field(default_factory=dict)
    output_where: dict[str, Where] = field(default_factory=dict)
    compute: str | None = None
    timeout: float | None = None  # limits.timeout, seconds: then the step is cancelled
    #: a sweep step's settings (mlops.pipeline.sweep.SweepSpec); `component` is its trial
    sweep: Any = None


@dataclass
class PipelineJob:
    """A `type: pipeline` job file: the root pipeline and the job-level settings."""

    path: Path
    root: Component
    experiment_name: str | None
    display_name: str | None
    #: "pipeline", or "command" for a command job run as a one-step pipeline
    kind: str = "pipeline"
    #: what Azure ML accepts but the local run ignores (set by the checks)
    warnings: list[Issue] = field(default_factory=list)
