"""Runs a sweep's trials on this machine: threads call a `TrialHost`, one thread asks the
sampler, polls metrics for early termination and enforces the limits.

The sweep rules themselves are pure: the spec in `mlops.pipeline.sweep`, the samplers in
`sweep_samplers`, the policies and the objective in `sweep_policies`; this module only
schedules. No mlflow or Azure imports: the host
knows how to start a trial and read its metrics.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlops.pipeline.sweep import SweepSpec
from mlops.pipeline.sweep_policies import EarlyTermination, best, objective
from mlops.pipeline.sweep_samplers import make_sampler

STATUSES = ("completed", "failed", "early_terminated", "timed_out", "canceled")
_JOIN_SECONDS = 10.0  # how long to wait for stopped trials to return before giving up on them


class TrialHost(Protocol):
    """What the orchestrator needs from whoever starts trial processes."""

    def run(self, index: int, params: dict[str, Any], timeout: float | None) -> int:
        """Run trial `index` to its end (blocking); its exit code, negative when a signal
        killed it. `timeout` is the trial_timeout in seconds: stop the trial after it."""
        ...

    def stop(self, index: int, reason: str) -> None:
        """Terminate a running trial; `run` then returns. Must tolerate a trial that has
        already ended or not yet started (it must then not start)."""
        ...

    def metrics(self, index: int) -> list[float]:
        """The primary-metric values the trial has logged so far, in logging order."""
        ...


@dataclass
class Trial:
    index: int
    params: dict[str, Any]
    status: str = "running"
    exit_code: int | None = None
    metrics: list[float] = field(default_factory=list)
    objective: float | None = None
    duration: float = 0.0
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "params": self.params,
            "status": self.status,
            "exit_code": self.exit_code,
            "metrics": [_json_number(v) for v in self.metrics],
            "objective": _json_number(self.objective),
            "duration": round(self.duration, 3),
            "reason": self.reason,
        }


@dataclass
class SweepResult:
    primary_metric: str
    goal: str
    trials: list[Trial]
    best: Trial | None
    stopped_reason: str | None = None  # why the sweep ended before its trials did

    @property
    def failure(self) -> str | None:
        """Why no trial can stand for the sweep (the caller fails the step with it), or None."""
        if self.best is not None:
            return None
        counts = {s: sum(1 for t in self.trials if t.status == s) for s in STATUSES}
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no trials ran"
        if not counts["completed"]:
            failed = next((t for t in self.trials if t.status == "failed"), None)
            detail = f"; trial {failed.index}: {failed.reason}" if failed and failed.reason else ""
            return f"no trial of the sweep completed ({summary}){detail}"
        return (
            f"no completed trial logged the primary metric '{self.primary_metric}' "
            f"({summary}); the trial script must call "
            f"mlflow.log_metric('{self.primary_metric}', value) with exactly that name"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "primary_metric": self.primary_metric,
            "goal": self.goal,
            "best": self.best.to_dict() if self.best else None,
            "stopped_reason": self.stopped_reason,
            "failure": self.failure,
            "trials": [t.to_dict() for t in self.trials],
        }


def _json_number(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: write them as strings."""
    if value is None or math.isfinite(value):
        return value
    return str(value)


@dataclass
class _Running:
    trial: Trial
    thread: threading.Thread
    started: float
    status: str | None = None  # set when this side stopped it


def run_sweep(
    spec: SweepSpec,
    host: TrialHost,
    *,
    cores: int,
    poll_seconds: float = 0.5,
    on_progress: Callable[[str], None] = lambda line: None,
) -> SweepResult:
    """Run trials until the sampler is exhausted or the sweep times out; trials run in
    threads, at most min(max_concurrent_trials, cores) at once. Ctrl-C stops every running
    trial through `host.stop` before it propagates."""
    wanted = spec.max_concurrent_trials or spec.max_total_trials
    concurrency = max(1, min(wanted, cores))
    if concurrency < wanted:
        on_progress(f"running {concurrency} trials at a time ({wanted} requested, {cores} cores)")
    sampler = make_sampler(spec)
    terminator = EarlyTermination(spec.policy, spec.goal) if spec.policy else None
    done: queue.Queue[tuple[int, int | None, float, str | None]] = queue.Queue()
    running: dict[int, _Running] = {}
    trials: dict[int, Trial] = {}
    histories: dict[int, list[float]] = {}
    deadline = time.monotonic() + spec.timeout if spec.timeout else math.inf
    stopped_reason: str | None = None
    exhausted = False

    def work(index: int, params: dict[str, Any]) -> None:
        start = time.monotonic()
        try:
            code: int | None = host.run(index, params, spec.trial_timeout)
            error = None
        except Exception as exc:  # a host that cannot start a trial fails that trial only
            code, error = None, f"{type(exc).__name__}: {exc}"
        done.put((index, code, time.monotonic() - start, error))

    def stop(index: int, status: str, reason: str) -> None:
        entry = running[index]
        if entry.status is None:
            entry.status, entry.trial.reason = status, reason
            host.stop(index, reason)

    def finish(index: int, code: int | None, duration: float, error: str | None) -> None:
        entry = running.pop(index)
        entry.thread.join()
        trial = entry.trial
        trial.exit_code, trial.duration = code, duration
        trial.metrics = list(host.metrics(index))
        histories[index] = trial.metrics
        trial.objective = objective(trial.metrics)
        if entry.status is not None:
            trial.status = entry.status
        elif error is not None:
            trial.status, trial.reason = "failed", error
        elif code == 0:
            trial.status = "completed"
        elif code is not None and code < 0 and _host_stopping(host):
            trial.status, trial.reason = "canceled", "the run around the sweep is stopping"
        elif spec.trial_timeout and duration >= spec.trial_timeout:
            trial.status = "timed_out"
            trial.reason = f"trial_timeout of {spec.trial_timeout:g}s reached (exit code {code})"
        else:
            trial.status, trial.reason = "failed", f"exit code {code}"
        completed = trial.objective if trial.status == "completed" else None
        sampler.tell(index, completed)
        on_progress(_describe(spec, trial, trials))

    try:
        while True:
            now = time.monotonic()
            if stopped_reason is None and _host_stopping(host):
                stopped_reason = "the run around the sweep is stopping"
                for index in list(running):
                    stop(index, "canceled", stopped_reason)
            if now >= deadline and stopped_reason is None:
                stopped_reason = f"sweep timeout of {spec.timeout:g}s reached"
                if running:
                    on_progress(f"{stopped_reason}: canceling {len(running)} running trial(s)")
                for index in list(running):
                    stop(index, "canceled", stopped_reason)
            while stopped_reason is None and not exhausted and len(running) < concurrency:
                asked = sampler.ask()
                if asked is None:
                    exhausted = True
                    break
                index, params = asked
                trial = Trial(index, params)
                trials[index] = trial
                thread = threading.Thread(
                    target=work, args=(index, params), name=f"sweep-trial-{index}", daemon=True
                )
                running[index] = _Running(trial, thread, time.monotonic())
                thread.start()
                on_progress(f"trial {index} started: {_params(params)}")
            if not running:
                break
            try:
                wait = max(0.0, min(max(poll_seconds, 0.01), deadline - time.monotonic()))
                finish(*done.get(timeout=wait))
                while True:
                    finish(*done.get_nowait())
            except queue.Empty:
                pass
            _watch(spec, host, running, histories, terminator, stop)
    except BaseException:  # Ctrl-C above all: leave no trial running behind us
        for index in list(running):
            stop(index, "canceled", "sweep interrupted")
        for entry in running.values():
            entry.thread.join(_JOIN_SECONDS)
        raise
    ordered = [trials[i] for i in sorted(trials)]
    scores = {t.index: t.objective for t in ordered if t.status == "completed"}
    winner = best(scores, spec.goal)
    return SweepResult(
        primary_metric=spec.primary_metric,
        goal=spec.goal,
        trials=ordered,
        best=trials[winner] if winner is not None else None,
        stopped_reason=stopped_reason,
    )


def _host_stopping(host: TrialHost) -> bool:
    """A host may say the run around the sweep is stopping (`stopping() -> bool`, optional):
    then no trial starts and the running ones are canceled."""
    stopping = getattr(host, "stopping", None)
    return bool(stopping()) if callable(stopping) else False


def _watch(
    spec: SweepSpec,
    host: TrialHost,
    running: dict[int, _Running],
    histories: dict[int, list[float]],
    terminator: EarlyTermination | None,
    stop: Callable[[int, str, str], None],
) -> None:
    """One poll: enforce trial_timeout (a backstop to the host's own) and apply the policy."""
    now = time.monotonic()
    for index, entry in list(running.items()):
        if spec.trial_timeout and now - entry.started >= spec.trial_timeout:
            stop(index, "timed_out", f"trial_timeout of {spec.trial_timeout:g}s reached")
    if terminator is None:
        return
    live = {i for i, e in running.items() if e.status is None}
    for index in live:
        histories[index] = list(host.metrics(index))
    for index, reason in terminator.to_stop(histories, live).items():
        stop(index, "early_terminated", reason)


def _params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={_value(v)}" for k, v in params.items())


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _describe(spec: SweepSpec, trial: Trial, trials: dict[int, Trial]) -> str:
    """One progress line for a finished trial, with the best so far."""
    finished = sum(1 for t in trials.values() if t.status != "running")
    head = f"trial {trial.index} {trial.status} ({finished}/{spec.max_total_trials}): "
    head += _params(trial.params)
    if trial.objective is not None:
        head += f" → {spec.primary_metric} {_value(trial.objective)}"
    scores = {t.index: t.objective for t in trials.values() if t.status == "completed"}
    leader = best(scores, spec.goal)
    if leader is not None:
        head += f" (best {_value(trials[leader].objective)}, trial {leader})"
    if trial.status != "completed":
        head += f" [{trial.reason}]"
    return head
