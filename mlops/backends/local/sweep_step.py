"""A sweep step on this machine: its trials as processes of the step, each a child MLflow run.

Each trial runs the trial component's command with the step's inputs and its sampled values
(`${{inputs.K}}` for search-space key K), in the step's environment, with outputs of its own
under `STEP/trials/N/outputs/`, tracked as an MLflow run nested under the step's run with the
sampled values as its parameters. The orchestrator (`backends.local.sweep`) decides which
trials run, stops those its early termination policy or limits stop, and picks the best; the
best trial's outputs become the step's outputs, as on Azure ML, and its run id is tagged on
the step's run as `best_child_run_id`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.backends.local.cache import CachedStep
from mlops.backends.local.tracking import PIPELINE_TAG, STEP_TAG

if TYPE_CHECKING:
    from mlops.backends.local.executor import Executor, StepResult
    from mlops.pipeline.plan import PlannedStep


class _TrialHost:
    """What the orchestrator needs from the runner: run a trial, stop it, read its metric."""

    def __init__(self, executor: Executor, step: PlannedStep, step_dir: Path, parent: str) -> None:
        self.executor = executor
        self.step = step
        self.step_dir = step_dir
        self.parent = parent
        self.inputs = {
            name: executor.input_text(value)
            for name, value in step.inputs.items()
            if name not in step.sweep.search_space
        }
        self.runs: dict[int, str] = {}
        self.outputs: dict[int, dict[str, Path]] = {}
        self.commands: dict[int, str] = {}
        self._lock = threading.Lock()

    def stopping(self) -> bool:
        """The run is stopping (a step failed, Ctrl-C, --timeout): start no more trials."""
        return self.executor.stopping is not None

    def key(self, index: int) -> str:
        return f"{self.step.id}#trial_{index}"

    def run(self, index: int, params: dict[str, Any], timeout: float | None) -> int:
        executor, step = self.executor, self.step
        if executor.stopping or executor.cancelled(self.key(index)):
            return -signal.SIGTERM  # the run, or this trial, was stopped: start nothing
        trial_dir = self.step_dir / "trials" / str(index)
        outputs = {name: trial_dir / "outputs" / name for name in step.outputs}
        for folder in outputs.values():
            folder.mkdir(parents=True, exist_ok=True)
        values: dict[tuple[str, str], str | None] = {
            ("inputs", k): v for k, v in self.inputs.items()
        }
        values |= {("inputs", k): _text(v) for k, v in params.items()}
        values |= {("outputs", k): str(v) for k, v in outputs.items()}
        command = executor.command(step, values)
        tracking = executor.ctx.tracking
        run_id = tracking.start(
            executor.ctx.experiment_id,
            f"{step.id}/trial_{index}",
            parent=self.parent,
            tags={
                PIPELINE_TAG: executor.ctx.run_id,
                STEP_TAG: step.id,
                "mlops.sweep.trial": str(index),
            },
            params=params,
        )
        with self._lock:
            self.runs[index] = run_id
            self.outputs[index] = outputs
            self.commands[index] = command
        cwd = step.component.code or trial_dir
        env = executor.environment(step, run_id)
        code = executor.spawn(
            self.key(index), command, cwd, env, trial_dir / "std_log.txt", timeout
        )
        tracking.end(run_id, "FINISHED" if code == 0 else ("KILLED" if code < 0 else "FAILED"))
        return code

    def stop(self, index: int, reason: str) -> None:
        """Safe at any time: before the trial's process starts, while it runs, after."""
        self.executor.cancel(self.key(index))

    def metrics(self, index: int) -> list[float]:
        with self._lock:
            run_id = self.runs.get(index)
        if run_id is None:
            return []
        return self.executor.ctx.tracking.metric_history(run_id, self.step.sweep.primary_metric)


def run_sweep_step(
    executor: Executor, step: PlannedStep, started: float, cache_key: str | None
) -> StepResult:
    """Run the sweep of `step`; its result carries the best trial's outputs.

    `cache_key` is the step's reuse key when a completed sweep may be reused."""
    from mlops.backends.local.executor import CANCELED, COMPLETED, FAILED, StepResult
    from mlops.backends.local.sweep import run_sweep

    ctx = executor.ctx
    spec = step.sweep
    step_dir = ctx.run_dir / step.id
    step_dir.mkdir(parents=True, exist_ok=True)
    log = step_dir / "std_log.txt"
    parent = ctx.tracking.start(
        ctx.experiment_id,
        step.id,
        parent=ctx.parent_run_id,
        tags={
            PIPELINE_TAG: ctx.run_id,
            STEP_TAG: step.id,
            "mlops.compute": str(step.compute or ""),
            "mlops.environment": step.component.environment_text,
            "mlops.sweep": "true",
        },
    )
    host = _TrialHost(executor, step, step_dir, parent)
    lock = threading.Lock()

    with log.open("a", encoding="utf-8") as sink:

        def progress(line: str) -> None:
            with lock:
                sink.write(line + "\n")
                sink.flush()
            if ctx.on_line is not None:  # streaming the logs: the line is one of them
                ctx.on_line(step.id, line)
            elif ctx.on_note is not None:
                ctx.on_note(step.id, line)

        for note in spec.notes:
            progress(note)
        result = run_sweep(spec, host, cores=os.cpu_count() or 1, on_progress=progress)
    best = result.best
    summary = result.to_dict() | {
        "trial_runs": {str(i): r for i, r in sorted(host.runs.items())},
        "best_child_run_id": host.runs.get(best.index) if best is not None else None,
    }
    (step_dir / "sweep.json").write_text(json.dumps(summary, indent=2, default=str))
    stopping = executor.stopping
    if best is None or stopping:
        ctx.tracking.end(parent, "KILLED" if stopping else "FAILED")
        reason = f"stopped: {stopping}" if stopping else result.failure or "no trial completed"
        return StepResult(
            step.id,
            CANCELED if stopping else FAILED,
            time.perf_counter() - started,
            log=log,
            exit_code=1,
            mlflow_run_id=parent,
            reason=reason,
            sweep=summary,
        )
    outputs = dict(host.outputs[best.index])
    for name, folder in step.output_paths.items():  # a fixed folder gets the best trial's
        shutil.copytree(outputs[name], folder, dirs_exist_ok=True)
        outputs[name] = folder
    ctx.tracking.log_metrics(parent, {spec.primary_metric: float(best.objective)})
    ctx.tracking.tag(
        parent,
        {"best_child_run_id": host.runs[best.index], "mlops.sweep.best_trial": str(best.index)},
    )
    ctx.tracking.end(parent, "FINISHED")
    if cache_key is not None and not step.output_paths:
        ctx.cache.put(
            cache_key,
            CachedStep(ctx.run_id, step.id, {k: str(v) for k, v in outputs.items()}, parent),
        )
    return StepResult(
        step.id,
        COMPLETED,
        time.perf_counter() - started,
        outputs=outputs,
        command=host.commands.get(best.index),
        log=log,
        exit_code=0,
        mlflow_run_id=parent,
        sweep=summary,
    )


def _text(value: Any) -> str:
    """A sampled value as the command sees it: JSON for choices that are mappings or lists."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)
