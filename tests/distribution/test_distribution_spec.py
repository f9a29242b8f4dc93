"""`distribution:` and `resources.instance_count` parsed, refused with a location, wrapped."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from mlops.errors import PipelineError
from mlops.pipeline.distribution import (
    LAUNCHER,
    MAX_PROCESSES,
    Distribution,
    mpi_available,
    parse_distribution,
    wrap,
)
from mlops.pipeline.model import Where

WHERE = Where(Path("job.yml"), 7, 3)


def parse(distribution: Any, resources: Any = None, path: str = "distribution") -> Any:
    return parse_distribution(distribution, resources, WHERE, path)


def refusal(distribution: Any, resources: Any = None, path: str = "distribution") -> PipelineError:
    with pytest.raises(PipelineError) as caught:
        parse(distribution, resources, path)
    return caught.value


def test_no_distribution_is_none() -> None:
    assert parse(None, {"instance_count": 4}) is None


def test_pytorch_defaults_to_one_process_on_one_instance() -> None:
    dist = parse({"type": "pytorch"})
    assert dist == Distribution("pytorch", instance_count=1, process_count_per_instance=1)
    assert dist.processes == 1
    assert dist.notice is None


def test_pytorch_processes_multiply_over_instances_with_a_notice() -> None:
    dist = parse({"type": "pytorch", "process_count_per_instance": 2}, {"instance_count": 2})
    assert dist.processes == 4
    assert dist.notice == "2 instances run as 2×2 processes on this machine"  # noqa: RUF001


def test_tensorflow_workers_default_to_instance_count() -> None:
    dist = parse({"type": "tensorflow"}, {"instance_count": 3, "instance_type": "x"})
    assert (dist.worker_count, dist.parameter_server_count, dist.processes) == (3, 0, 3)
    dist = parse({"type": "tensorflow", "worker_count": 2, "parameter_server_count": 1})
    assert (dist.worker_count, dist.parameter_server_count, dist.processes) == (2, 1, 3)
    assert dist.notice is None


def test_mpi_needs_process_count_per_instance() -> None:
    error = refusal({"type": "mpi"})
    assert [i.path for i in error.issues] == ["distribution.process_count_per_instance"]
    dist = parse({"type": "mpi", "process_count_per_instance": 3}, {"instance_count": 2})
    assert dist.processes == 6


def test_ray_is_refused_with_the_way_to_run_it() -> None:
    error = refusal({"type": "ray", "port": 6379})
    assert "ray" in error.message
    assert "--env dev" in (error.hint or "")
    assert error.issues[0].path == "distribution.type"


@pytest.mark.parametrize("value", [0, -1, "2", 2.5, True, [2], MAX_PROCESSES + 1, 10**9])
def test_bad_counts_are_refused_where_they_are(value: Any) -> None:
    error = refusal({"type": "pytorch", "process_count_per_instance": value})
    (issue,) = error.issues
    assert issue.path == "distribution.process_count_per_instance"
    assert (issue.file, issue.line, issue.column) == ("job.yml", 7, 3)


@pytest.mark.parametrize("value", [0, -2, "two", None])
def test_bad_instance_count_is_reported_at_resources(value: Any) -> None:
    resources = {"instance_count": value}
    if value is None:  # written but empty: the default
        assert parse({"type": "pytorch"}, resources).instance_count == 1
        return
    error = refusal({"type": "pytorch"}, resources, path="jobs.train.distribution")
    assert [i.path for i in error.issues] == ["jobs.train.resources.instance_count"]


def test_parameter_servers_may_be_zero_but_not_negative() -> None:
    assert parse({"type": "tensorflow", "parameter_server_count": 0}).processes == 1
    error = refusal({"type": "tensorflow", "parameter_server_count": -1})
    assert error.issues[0].path == "distribution.parameter_server_count"


def test_too_many_processes_in_all_is_refused() -> None:
    error = refusal({"type": "pytorch", "process_count_per_instance": 16}, {"instance_count": 8})
    assert "128 processes" in error.issues[0].message
    assert f"at most {MAX_PROCESSES}" in error.issues[0].message


def test_every_problem_is_reported_at_once() -> None:
    error = refusal(
        {"type": "tensorflow", "worker_count": 0, "process_count_per_instance": 2},
        {"instance_count": "x"},
    )
    assert sorted(i.path for i in error.issues) == [
        "distribution.process_count_per_instance",
        "distribution.worker_count",
        "resources.instance_count",
    ]


def test_a_misspelt_field_is_refused_rather_than_ignored() -> None:
    error = refusal({"type": "pytorch", "process_count_per_node": 4})
    assert error.issues[0].path == "distribution.process_count_per_node"
    assert "process_count_per_instance" in (error.issues[0].hint or "")


@pytest.mark.parametrize("distribution", [{"type": "horovod"}, {}, "pytorch", ["pytorch"]])
def test_unknown_types_and_shapes_are_refused(distribution: Any) -> None:
    error = refusal(distribution)
    assert error.issues and error.issues[0].path.startswith("distribution")


def test_resources_must_be_a_mapping() -> None:
    error = refusal({"type": "pytorch"}, "big")
    assert error.issues[0].path == "resources"


def test_wrap_passes_the_command_as_one_argument() -> None:
    command = """python train.py --name 'it'"'"'s' "$(date)" ; echo done"""
    dist = Distribution("pytorch", instance_count=2, process_count_per_instance=3)
    assert shlex.split(wrap(command, dist)) == [
        "exec",
        "python",
        "-m",
        LAUNCHER,
        "--type",
        "pytorch",
        "--instances",
        "2",
        "--processes-per-instance",
        "3",
        "--",
        command,
    ]


def test_wrap_tells_tensorflow_its_tasks() -> None:
    dist = Distribution("tensorflow", instance_count=2, worker_count=2, parameter_server_count=1)
    words = shlex.split(wrap("python t.py", dist))
    assert words[4:8] == ["--type", "tensorflow", "--instances", "2"]
    assert words[8:-2] == ["--workers", "2", "--parameter-servers", "1"]
    assert words[-1] == "python t.py"


def test_mpi_available_follows_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not mpi_available()
    fake = tmp_path / "mpirun"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert mpi_available()
