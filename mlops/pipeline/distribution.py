"""A command's `distribution:` and `resources.instance_count`, as the ranks a local run starts.

Azure ML starts `instance_count` nodes and, on each, the processes the distribution asks for,
with the variables PyTorch, TensorFlow or MPI read to find each other
(https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-command,
https://learn.microsoft.com/azure/machine-learning/how-to-train-distributed-gpu). Locally
every instance runs on this machine: `wrap` turns a step's command into one that runs the
launcher (`mlops/backends/local/drivers/launch.py`), which starts the ranks and sets those
variables. Pure: nothing here starts a process.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from typing import Any

from mlops.errors import Issue, PipelineError
from mlops.pipeline.model import Where

#: More processes than this on one machine is a mistake (a typo'd count), not a test run.
MAX_PROCESSES = 64

#: The fields each type accepts (reference-yaml-job-command); others are typos, refused
#: rather than silently running one process.
FIELDS: dict[str, tuple[str, ...]] = {
    "pytorch": ("process_count_per_instance",),
    "mpi": ("process_count_per_instance",),
    "tensorflow": ("worker_count", "parameter_server_count"),
}
TYPES = (*FIELDS, "ray")

#: The module the wrapped command runs, from the copy of mlops.backends.local.drivers.
LAUNCHER = "mlops_local_drivers.launch"


@dataclass(frozen=True)
class Distribution:
    """How many processes a distributed command runs, and of which kind."""

    type: str  # "pytorch", "tensorflow" or "mpi"
    instance_count: int = 1
    process_count_per_instance: int = 1  # pytorch and mpi
    worker_count: int = 1  # tensorflow
    parameter_server_count: int = 0  # tensorflow

    @property
    def processes(self) -> int:
        """Every process started on this machine (WORLD_SIZE, or TensorFlow's tasks)."""
        if self.type == "tensorflow":
            return self.worker_count + self.parameter_server_count
        return self.instance_count * self.process_count_per_instance

    @property
    def notice(self) -> str | None:
        """A one-line warning when several instances are simulated on this one machine."""
        if self.instance_count <= 1:
            return None
        n = self.instance_count
        if self.type == "tensorflow":
            return (
                f"{n} instances run as {self.processes} processes on this machine"
                f" ({self.worker_count} workers, {self.parameter_server_count} parameter servers)"
            )
        per = self.process_count_per_instance
        return f"{n} instances run as {n}×{per} processes on this machine"  # noqa: RUF001

    def launcher_arguments(self) -> list[str]:
        """The launcher's options for this distribution (before `--` and the command)."""
        if self.type == "tensorflow":
            return [
                "--type",
                "tensorflow",
                "--instances",
                str(self.instance_count),
                "--workers",
                str(self.worker_count),
                "--parameter-servers",
                str(self.parameter_server_count),
            ]
        return [
            "--type",
            self.type,
            "--instances",
            str(self.instance_count),
            "--processes-per-instance",
            str(self.process_count_per_instance),
        ]


def parse_distribution(
    distribution: Any, resources: Any, where: Where, path: str
) -> Distribution | None:
    """The `distribution:` mapping (plain data) with `resources:`; None when there is none.

    `path` is the dotted path of the `distribution` key (e.g. `jobs.train.distribution`);
    problems with `resources.instance_count` are reported at its sibling `resources`. Every
    problem is collected into one PipelineError (exit 2), raised before any step runs.
    """
    if distribution is None:
        return None
    parent = path.rpartition(".")[0]
    resources_path = f"{parent}.resources" if parent else "resources"
    issues: list[Issue] = []
    if not isinstance(distribution, dict):
        issues.append(
            where.issue(path, f"expected a mapping with `type:`, got {_shown(distribution)}")
        )
        _raise(issues)
    kind = distribution.get("type")
    if kind == "ray":
        raise PipelineError(
            "a ray distribution cannot run on this machine: Azure ML starts the Ray cluster",
            hint="submit the job to Azure ML: `mlops run JOB --env dev`",
            issues=[where.issue(f"{path}.type", "ray jobs run only on Azure ML")],
        )
    if kind not in FIELDS:
        issues.append(
            where.issue(
                f"{path}.type",
                f"unknown distribution type {_shown(kind)}",
                "use one of: " + ", ".join(TYPES),
            )
        )
        _raise(issues)
    for key in distribution:
        if key != "type" and key not in FIELDS[kind]:
            issues.append(
                where.issue(
                    f"{path}.{key}",
                    f"`{key}` is not a field of a {kind} distribution",
                    "a " + kind + " distribution takes: " + ", ".join(FIELDS[kind]),
                )
            )
    instances = 1
    if resources is not None and not isinstance(resources, dict):
        issues.append(where.issue(resources_path, f"expected a mapping, got {_shown(resources)}"))
    elif resources is not None and resources.get("instance_count") is not None:
        instances = _count(
            resources["instance_count"], 1, where, f"{resources_path}.instance_count", issues
        )
    fields: dict[str, int] = {}
    if kind in ("pytorch", "mpi"):
        value = distribution.get("process_count_per_instance")
        if value is None and kind == "mpi":
            issues.append(
                where.issue(
                    f"{path}.process_count_per_instance",
                    "an mpi distribution needs `process_count_per_instance`",
                    "set it to the processes each instance runs (typically its GPU count)",
                )
            )
        fields["process_count_per_instance"] = (
            1
            if value is None
            else _count(value, 1, where, f"{path}.process_count_per_instance", issues)
        )
    else:
        workers = distribution.get("worker_count")
        servers = distribution.get("parameter_server_count")
        fields["worker_count"] = (
            instances
            if workers is None
            else _count(workers, 1, where, f"{path}.worker_count", issues)
        )
        fields["parameter_server_count"] = (
            0
            if servers is None
            else _count(servers, 0, where, f"{path}.parameter_server_count", issues)
        )
    _raise(issues)
    result = Distribution(type=kind, instance_count=instances, **fields)
    if result.processes > MAX_PROCESSES:
        _raise(
            [
                where.issue(
                    path,
                    f"{result.processes} processes is more than this machine runs locally"
                    f" (at most {MAX_PROCESSES})",
                    "lower the counts for a local run, or submit the job to Azure ML with"
                    " `--env dev`",
                )
            ]
        )
    return result


def mpi_available() -> bool:
    """Whether `mpirun` is on PATH: the loader refuses an mpi job before any step otherwise."""
    return shutil.which("mpirun") is not None


def wrap(command: str, dist: Distribution) -> str:
    """The bash command that runs the RENDERED `command` once per rank through the launcher.

    Call it AFTER `mlops.pipeline.expressions.render`: the command, bindings already replaced
    by quoted values, becomes one shell-quoted argument, which each rank runs unchanged with
    `/bin/bash -c`. Wrapping before rendering would be wrong: a `${{inputs.x}}` would then sit
    inside the wrapper's single quotes, the renderer would quote its value for that outer
    level only, and the inner bash would split `a b` into two words. The result starts with
    `exec`, so the launcher replaces the step's bash and its exit code is the step's: run it
    as the whole command (a `cd DIR && ` before it is fine, nothing after it). `python` is
    the step environment's (first on the step's PATH).
    """
    launcher = shlex.join(["python", "-m", LAUNCHER, *dist.launcher_arguments(), "--"])
    return f"exec {launcher} {shlex.quote(command)}"


def _count(value: Any, least: int, where: Where, path: str, issues: list[Issue]) -> int:
    """A whole number of at least `least`; anything else is an issue (and counts as `least`)."""
    if isinstance(value, bool) or not isinstance(value, int):
        issues.append(where.issue(path, f"expected a whole number, got {_shown(value)}"))
        return least
    if value < least:
        issues.append(where.issue(path, f"expected {least} or more, got {value}"))
        return least
    if value > MAX_PROCESSES:
        issues.append(
            where.issue(
                path,
                f"{value} is more than this machine runs locally (at most {MAX_PROCESSES}"
                " processes)",
                "lower it for a local run, or submit the job to Azure ML with `--env dev`",
            )
        )
        return least
    return value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _raise(issues: list[Issue]) -> None:
    if issues:
        raise PipelineError(
            f"the distribution cannot run: {len(issues)} problem(s)",
            hint="fix the distribution above; nothing has run",
            issues=issues,
        )
