"""The local sweep runs real trial processes, stops the ones a policy or a limit ends, and
picks the best completed trial by its last logged metric."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlops.backends.local.sweep import SweepResult, run_sweep
from mlops.pipeline.model import Where
from mlops.pipeline.sweep import SweepSpec, parse_sweep

# a trial: wait `delay`, then log each value of `curve` (one per line) `step` seconds apart
TRIAL = """
import json, sys, time
path, b = sys.argv[1], json.loads(sys.argv[2])
time.sleep(b["delay"])
for value in b["curve"]:
    with open(path, "a") as f:
        f.write(f"{value}\\n")
    time.sleep(b["step"])
sys.exit(b["exit"])
"""


@dataclass
class Behaviour:
    curve: list[float]
    step: float = 0.0
    delay: float = 0.0
    exit: int = 0


@dataclass
class ProcessHost:
    """A TrialHost running each trial as a Python subprocess that writes its metric file."""

    folder: Path
    behave: Callable[[dict[str, Any]], Behaviour]
    stops: dict[int, str] = field(default_factory=dict)
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    active: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, index: int, params: dict[str, Any], timeout: float | None) -> int:
        behaviour = json.dumps(asdict(self.behave(params)))
        with self.lock:
            if index in self.stops:
                return -15
            process = subprocess.Popen(
                [sys.executable, "-c", TRIAL, str(self.folder / f"{index}.txt"), behaviour]
            )
            self.processes[index] = process
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()
        finally:
            with self.lock:
                self.active -= 1

    def stop(self, index: int, reason: str) -> None:
        with self.lock:
            self.stops[index] = reason
            process = self.processes.get(index)
        if process is not None and process.poll() is None:
            process.terminate()

    def metrics(self, index: int) -> list[float]:
        path = self.folder / f"{index}.txt"
        if not path.exists():
            return []
        return [float(line) for line in path.read_text().split("\n")[:-1]]


def sweep(
    space: dict[str, Any],
    *,
    algorithm: Any = "grid",
    goal: str = "maximize",
    limits: dict[str, Any] | None = None,
    policy: dict[str, Any] | None = None,
) -> SweepSpec:
    data: dict[str, Any] = {
        "sampling_algorithm": algorithm,
        "search_space": space,
        "objective": {"primary_metric": "accuracy", "goal": goal},
        "limits": limits or {},
    }
    if policy:
        data["early_termination"] = policy
    return parse_sweep(data, Where(Path("sweep.yml")), "jobs.sweep_step")


def run(spec: SweepSpec, host: ProcessHost, cores: int = 4) -> tuple[SweepResult, list[str]]:
    lines: list[str] = []
    result = run_sweep(spec, host, cores=cores, poll_seconds=0.05, on_progress=lines.append)
    return result, lines


def named(**profiles: Behaviour) -> Callable[[dict[str, Any]], Behaviour]:
    """Trials chosen by a `trial` choice whose values name these profiles."""
    return lambda params: profiles[params["trial"]]


def choice(*values: Any) -> dict[str, Any]:
    return {"type": "choice", "values": list(values)}


GRID = {"C": choice(0.1, 1.0), "kernel": choice("linear", "rbf", "poly")}
KERNEL_SCORE = {"linear": 0.3, "rbf": 0.9, "poly": 0.5}


def score(params: dict[str, Any]) -> Behaviour:
    value = KERNEL_SCORE[params["kernel"]] * (1 if params["C"] == 1.0 else 0.5)
    return Behaviour(curve=[0.1, value])


@pytest.mark.parametrize(
    ("goal", "winner"), [("maximize", "C=1.0 rbf"), ("minimize", "C=0.1 linear")]
)
def test_grid_2x3_runs_six_trials_and_picks_the_best_by_goal(
    tmp_path: Path, goal: str, winner: str
) -> None:
    result, lines = run(sweep(GRID, goal=goal), ProcessHost(tmp_path, score))
    assert [t.status for t in result.trials] == ["completed"] * 6
    assert result.best is not None
    assert f"C={result.best.params['C']} {result.best.params['kernel']}" == winner
    assert result.best.objective == result.best.metrics[-1]  # the last value logged
    assert result.failure is None
    assert any(line.startswith("trial 4 completed (") and "→ accuracy" in line for line in lines)
    json.dumps(result.to_dict())


def test_random_with_a_seed_runs_the_same_trials_twice(tmp_path: Path) -> None:
    space = {"C": {"type": "uniform", "min_value": 0, "max_value": 1}, "kernel": choice("rbf")}
    spec = sweep(space, algorithm={"type": "random", "seed": 11}, limits={"max_total_trials": 3})
    (tmp_path / "first").mkdir()
    (tmp_path / "again").mkdir()
    first, _ = run(spec, ProcessHost(tmp_path / "first", score))
    again, _ = run(spec, ProcessHost(tmp_path / "again", score))
    assert [t.params for t in first.trials] == [t.params for t in again.trials]
    assert len(first.trials) == 3


def test_bandit_stops_a_trial_that_falls_behind(tmp_path: Path) -> None:
    host = ProcessHost(
        tmp_path,
        named(
            good=Behaviour(curve=[0.9, 0.9, 0.9, 0.9]),
            bad=Behaviour(curve=[0.5, 0.5, 0.5, 0.5], step=0.5),
        ),
    )
    spec = sweep(
        {"trial": choice("good", "bad")},
        limits={"max_concurrent_trials": 1},
        policy={"type": "bandit", "slack_factor": 0.1},
    )
    result, lines = run(spec, host)
    good, bad = result.trials
    assert good.status == "completed" and bad.status == "early_terminated"
    assert bad.reason is not None and bad.reason.startswith("bandit:")
    assert bad.metrics[0] == 0.5 and len(bad.metrics) < 4  # stopped at interval 1
    assert bad.exit_code is not None and bad.exit_code < 0  # the process was terminated
    assert host.stops == {1: bad.reason}
    assert result.best is good
    assert any("early_terminated" in line and "bandit" in line for line in lines)


def test_median_stopping_stops_a_trial_worse_than_the_median(tmp_path: Path) -> None:
    host = ProcessHost(
        tmp_path,
        named(
            a=Behaviour(curve=[0.8, 0.8, 0.8]),
            b=Behaviour(curve=[0.7, 0.7, 0.7]),
            c=Behaviour(curve=[0.2, 0.2, 0.2], step=0.5),
        ),
    )
    spec = sweep(
        {"trial": choice("a", "b", "c")},
        limits={"max_concurrent_trials": 1},
        policy={"type": "median_stopping", "evaluation_interval": 1},
    )
    result, _ = run(spec, host)
    assert [t.status for t in result.trials] == ["completed", "completed", "early_terminated"]
    assert "median" in (result.trials[2].reason or "")


def test_truncation_selection_stops_the_lowest_quarter(tmp_path: Path) -> None:
    host = ProcessHost(
        tmp_path,
        named(
            a=Behaviour(curve=[0.9, 0.9]),
            b=Behaviour(curve=[0.8, 0.8]),
            c=Behaviour(curve=[0.7, 0.7]),
            d=Behaviour(curve=[0.1, 0.1], step=0.5),
        ),
    )
    spec = sweep(
        {"trial": choice("a", "b", "c", "d")},
        limits={"max_concurrent_trials": 1},
        policy={"type": "truncation_selection", "truncation_percentage": 25},
    )
    result, _ = run(spec, host)
    assert [t.status for t in result.trials][-1] == "early_terminated"
    assert [t.status for t in result.trials][:3] == ["completed"] * 3


def test_a_trial_over_trial_timeout_is_timed_out_and_the_others_run(tmp_path: Path) -> None:
    host = ProcessHost(
        tmp_path,
        named(fast=Behaviour(curve=[0.5]), slow=Behaviour(curve=[0.9], delay=10)),
    )
    spec = sweep({"trial": choice("slow", "fast")}, limits={"trial_timeout": 1})
    result, _ = run(spec, host)
    slow, fast = result.trials
    assert slow.status == "timed_out" and "trial_timeout of 1s" in (slow.reason or "")
    assert 1 <= slow.duration < 5
    assert fast.status == "completed" and result.best is fast


def test_the_sweep_timeout_cancels_running_trials_and_starts_no_more(tmp_path: Path) -> None:
    host = ProcessHost(tmp_path, lambda params: Behaviour(curve=[0.5], delay=10))
    spec = sweep({"trial": choice(1, 2, 3, 4)}, limits={"timeout": 1, "max_concurrent_trials": 2})
    result, lines = run(spec, host)
    assert [t.status for t in result.trials] == ["canceled", "canceled"]
    assert result.stopped_reason == "sweep timeout of 1s reached"
    assert all(t.duration < 5 for t in result.trials)
    assert any("canceling 2 running trial(s)" in line for line in lines)
    assert result.best is None and "no trial of the sweep completed" in (result.failure or "")


def test_concurrency_is_bounded_by_cores_and_says_so(tmp_path: Path) -> None:
    host = ProcessHost(tmp_path, lambda params: Behaviour(curve=[0.5], delay=0.3))
    spec = sweep({"trial": choice(1, 2, 3, 4)}, limits={"max_concurrent_trials": 4})
    result, lines = run(spec, host, cores=2)
    assert len(result.trials) == 4 and host.peak == 2
    assert lines[0] == "running 2 trials at a time (4 requested, 2 cores)"


def test_a_failing_trial_does_not_stop_the_others(tmp_path: Path) -> None:
    host = ProcessHost(
        tmp_path,
        named(ok=Behaviour(curve=[0.6]), broken=Behaviour(curve=[0.99], exit=3)),
    )
    result, lines = run(sweep({"trial": choice("broken", "ok", "ok")}), host)
    assert [t.status for t in result.trials] == ["failed", "completed", "completed"]
    assert result.trials[0].exit_code == 3 and result.trials[0].reason == "exit code 3"
    assert result.best is result.trials[1]  # a failed trial's 0.99 does not count
    assert any(line.startswith("trial 0 failed") for line in lines)


def test_no_metric_logged_leaves_no_best_and_a_failure_naming_the_metric(tmp_path: Path) -> None:
    host = ProcessHost(tmp_path, lambda params: Behaviour(curve=[]))
    result, _ = run(sweep({"trial": choice(1, 2)}), host)
    assert [t.status for t in result.trials] == ["completed", "completed"]
    assert result.best is None
    assert result.failure is not None
    assert "primary metric 'accuracy'" in result.failure
    assert "mlflow.log_metric('accuracy', value)" in result.failure
    assert result.to_dict()["failure"] == result.failure


def test_bayesian_runs_the_requested_number_of_trials(tmp_path: Path) -> None:
    space = {
        "C": {"type": "uniform", "min_value": 0.1, "max_value": 1},
        "kernel": choice("linear", "rbf"),
    }
    host = ProcessHost(tmp_path, lambda p: Behaviour(curve=[p["C"]]))
    spec = sweep(space, algorithm="bayesian", limits={"max_total_trials": 5})
    result, _ = run(spec, host)
    assert [t.index for t in result.trials] == [0, 1, 2, 3, 4]
    assert all(t.status == "completed" for t in result.trials)
    assert result.best is not None
    assert result.best.objective == max(t.objective or 0 for t in result.trials)


def test_ctrl_c_stops_every_running_trial_before_it_propagates(tmp_path: Path) -> None:
    host = ProcessHost(tmp_path, lambda params: Behaviour(curve=[0.5], delay=10))
    spec = sweep({"trial": choice(1, 2, 3)}, limits={"max_concurrent_trials": 2})

    def interrupt(line: str) -> None:
        if line.startswith("trial 1 started"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, host, cores=4, poll_seconds=0.05, on_progress=interrupt)
    assert set(host.stops) == {0, 1}
    assert all(p.poll() is not None for p in host.processes.values())
