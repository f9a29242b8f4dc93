"""Run a planned pipeline on this machine: steps as processes, in dependency order, in parallel.

Each step runs its rendered command with bash in its component's code folder, in the
environment its component declares (built beforehand: `RunContext.environments`) or the CLI's
own, with its own MLflow child run; its outputs are folders created before it
starts, its log is `std_log.txt` beside them. Unchanged steps are reused instead of run.
A stopped step gets SIGTERM, then SIGKILL after a grace period; `limits.timeout` and the run's
deadline stop steps the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from mlops.backends.local.cache import CachedStep, StepCache
from mlops.backends.local.tracking import PIPELINE_TAG, REUSED_TAG, STEP_TAG, Tracking
from mlops.pipeline import expressions
from mlops.pipeline.fingerprint import code_hash, content_hash, step_key
from mlops.pipeline.plan import Literal, LocalData, PlannedStep, RunPlan, Upstream

COMPLETED, REUSED, FAILED, SKIPPED, CANCELED = (
    "completed",
    "reused",
    "failed",
    "skipped",
    "canceled",
)
SUCCEEDED = (COMPLETED, REUSED)


@dataclass
class StepResult:
    id: str
    status: str
    duration: float = 0.0
    outputs: dict[str, Path] = field(default_factory=dict)
    command: str | None = None
    log: Path | None = None
    exit_code: int | None = None
    mlflow_run_id: str | None = None
    reused_from: str | None = None
    reason: str | None = None
    #: what a sweep step's trials did (`SweepResult.to_dict()`), for `mlops run -o json`
    sweep: dict | None = None


@dataclass(frozen=True)
class Event:
    """A step changed state: `running`, or one of the final statuses."""

    step: str
    state: str
    result: StepResult | None = None


@dataclass(frozen=True)
class RunContext:
    run_id: str
    run_dir: Path
    tracking: Tracking
    experiment_id: str
    parent_run_id: str
    cache: StepCache
    use_cache: bool = True
    parallelism: int = 2
    on_event: Callable[[Event], None] = lambda event: None
    on_line: Callable[[str, str], None] | None = None  # (step, line) when streaming logs
    on_note: Callable[[str, str], None] | None = None  # (step, progress) of a sweep's trials
    timeout: float | None = None  # seconds for the whole run (`mlops run --timeout`)
    grace: float = 10.0  # seconds between SIGTERM and SIGKILL when a step is stopped
    #: step id -> the `bin` folder of its built environment; absent: the CLI's environment
    environments: dict[str, Path] = field(default_factory=dict)
    #: MLFLOW_TRACKING_URI for steps in their own environment (they cannot open the SQLite
    #: store with their own MLflow), or what gives it (a server started on first use); the
    #: others get `tracking.uri`
    isolated_tracking_uri: str | Callable[[], str] | None = None


class Executor:
    def __init__(self, plan: RunPlan, context: RunContext) -> None:
        self.plan = plan
        self.ctx = context
        self.results: dict[str, StepResult] = {}
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self._stop_reason = "an earlier step failed"
        self._timed_out: set[str] = set()  # steps stopped by their limits.timeout
        self.timed_out = False  # the whole run passed its deadline
        self._hashes: dict[tuple[str, Path], str] = {}
        self._drivers: Path | None = None
        self._cancelled: set[str] = set()  # process keys stopped before or while they run

    def run(self) -> dict[str, StepResult]:
        """Run every step; return each step's result in plan order."""
        pending = dict(self.plan.steps)
        running: dict[Future[StepResult], str] = {}
        deadline = None
        if self.ctx.timeout is not None:
            deadline = threading.Timer(self.ctx.timeout, self._deadline_passed)
            deadline.daemon = True
            deadline.start()
        try:
            with ThreadPoolExecutor(max_workers=max(1, self.ctx.parallelism)) as pool:
                try:
                    self._schedule(pool, pending, running)
                except BaseException:
                    # Ctrl-C or SIGTERM lands wherever the main thread is. Steps run in their
                    # own sessions, so it does not reach them: stop them here (SIGKILL after
                    # the grace period), or they would outlive the run and the pool would
                    # wait for them on the way out
                    self._shutdown()
                    raise
        finally:
            if deadline is not None:
                deadline.cancel()
        for step_id in pending:  # blocked behind a cycle or a stop
            self._finish(StepResult(step_id, CANCELED, reason=self._stop_reason))
        return {s: self.results[s] for s in self.plan.steps}

    def _deadline_passed(self) -> None:
        self.timed_out = True
        self._stop(f"the run passed its timeout of {self.ctx.timeout:g}s")

    def _shutdown(self) -> None:
        """Stop every running step now and wait for them, at most the grace period; then
        SIGKILL what is left (also when a second signal cuts the wait short)."""
        self._stop("the run was interrupted")
        with self._lock:
            processes = list(self._processes.values())
        end = time.monotonic() + self.ctx.grace
        try:  # the step threads reap their processes once their output closed
            while time.monotonic() < end and any(p.returncode is None for p in processes):
                time.sleep(0.05)
        finally:
            for process in processes:
                _kill(process)

    def _schedule(
        self,
        pool: ThreadPoolExecutor,
        pending: dict[str, PlannedStep],
        running: dict[Future[StepResult], str],
    ) -> None:
        while pending or running:
            for step_id in list(pending):
                step = pending[step_id]
                if not step.depends_on <= self.results.keys():
                    continue
                del pending[step_id]
                failed = [d for d in step.depends_on if self.results[d].status not in SUCCEEDED]
                if self._stopping or failed:
                    reason = (
                        self._stop_reason
                        if self._stopping
                        else f"needs {', '.join(sorted(failed))}, which did not succeed"
                    )
                    status = CANCELED if self._stopping else SKIPPED
                    self._finish(StepResult(step_id, status, reason=reason))
                    continue
                self.ctx.on_event(Event(step_id, "running"))
                running[pool.submit(self._run_step, step)] = step_id
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                del running[future]
                result = future.result()
                self._finish(result)
                if result.status == FAILED and not self.plan.continue_on_step_failure:
                    self._stop()

    def _finish(self, result: StepResult) -> None:
        self.results[result.id] = result
        self.ctx.on_event(Event(result.id, result.status, result))

    def _stop(self, reason: str = "an earlier step failed") -> None:
        """Cancel what is still running, as Azure ML does without continue_on_step_failure."""
        with self._lock:
            if not self._stopping:
                self._stop_reason = reason
            self._stopping = True
            for process in self._processes.values():
                _terminate(process, self.ctx.grace)

    def _run_step(self, step: PlannedStep) -> StepResult:
        started = time.perf_counter()
        try:
            return self._execute(step, started)
        except OSError as exc:  # the command could not be started at all
            return StepResult(
                step.id, FAILED, time.perf_counter() - started, reason=f"could not start: {exc}"
            )

    def _execute(self, step: PlannedStep, started: float) -> StepResult:
        component = step.component
        inputs = {name: self.input_text(value) for name, value in step.inputs.items()}
        key = self._reuse_key(step)
        # an output in a fixed folder is overwritten by every run: a reused result could
        # point at another run's data
        cacheable = self.ctx.use_cache and component.is_deterministic and not step.output_paths
        tags = {PIPELINE_TAG: self.ctx.run_id, STEP_TAG: step.id}
        if cacheable and (hit := self.ctx.cache.get(key)) is not None:
            mlflow_run = self.ctx.tracking.start(
                self.ctx.experiment_id,
                step.id,
                parent=self.ctx.parent_run_id,
                tags={**tags, REUSED_TAG: hit.run_id},
            )
            if hit.mlflow_run_id:
                self.ctx.tracking.copy_metrics(hit.mlflow_run_id, mlflow_run)
            self.ctx.tracking.end(mlflow_run, "FINISHED")
            return StepResult(
                step.id,
                REUSED,
                time.perf_counter() - started,
                outputs={k: Path(v) for k, v in hit.outputs.items()},
                mlflow_run_id=mlflow_run,
                reused_from=hit.run_id,
            )

        if step.sweep is not None:
            from mlops.backends.local.sweep_step import run_sweep_step

            return run_sweep_step(self, step, started, key if cacheable else None)
        step_dir = self.ctx.run_dir / step.id
        step_dir.mkdir(parents=True, exist_ok=True)
        outputs = {
            name: step.output_paths.get(name, step_dir / "outputs" / name) for name in step.outputs
        }
        for folder in outputs.values():
            folder.mkdir(parents=True, exist_ok=True)
        values = {("inputs", k): v for k, v in inputs.items()}
        values |= {("outputs", k): str(v) for k, v in outputs.items()}
        command = self.command(step, values)
        mlflow_run = self.ctx.tracking.start(
            self.ctx.experiment_id,
            step.id,
            parent=self.ctx.parent_run_id,
            tags={
                **tags,
                "mlops.compute": str(step.compute or ""),
                "mlops.environment": component.environment_text,
                **(
                    {"mlops.environment.digest": step.environment.digest}
                    if step.id in self.ctx.environments and step.environment is not None
                    else {}
                ),
            },
            params={k: v for k, v in inputs.items() if v is not None},
        )
        log = step_dir / "std_log.txt"
        cwd = component.code if component.code else step_dir
        env = self.environment(step, mlflow_run)
        exit_code = self.spawn(step.id, command, cwd, env, log, step.timeout)
        status = COMPLETED if exit_code == 0 else FAILED
        timed_out = step.id in self._timed_out
        if status == FAILED and self._stopping and exit_code < 0 and not timed_out:
            status = CANCELED  # stopped by us: another step failed, or the run was stopped
        mlflow_status = {COMPLETED: "FINISHED", FAILED: "FAILED", CANCELED: "KILLED"}[status]
        self.ctx.tracking.end(mlflow_run, mlflow_status)
        if status == COMPLETED and cacheable:
            self.ctx.cache.put(
                key,
                CachedStep(
                    self.ctx.run_id, step.id, {k: str(v) for k, v in outputs.items()}, mlflow_run
                ),
            )
        return StepResult(
            step.id,
            status,
            time.perf_counter() - started,
            outputs=outputs,
            command=command,
            log=log,
            exit_code=exit_code,
            mlflow_run_id=mlflow_run,
            reason=(
                f"timed out: stopped after its limits.timeout of {step.timeout:g}s"
                if timed_out
                else {
                    COMPLETED: None,
                    FAILED: f"exit code {exit_code}",
                    CANCELED: f"stopped: {self._stop_reason}",
                }[status]
            ),
        )

    def command(self, step: PlannedStep, values: dict) -> str:
        """The step's command with its inputs and outputs filled in, run by the launcher of
        its `distribution:` when it has one."""
        command = expressions.render(step.component.command, values.get)
        if step.component.distribution is not None:
            from mlops.pipeline.distribution import wrap

            command = wrap(command, step.component.distribution)
        return command

    @property
    def stopping(self) -> str | None:
        """Why the run is stopping (a step failed, Ctrl-C, --timeout); None while it is not."""
        return self._stop_reason if self._stopping else None

    def cancelled(self, key: str) -> bool:
        with self._lock:
            return key in self._cancelled

    def cancel(self, key: str) -> None:
        """Stop the process `spawn` runs under `key`: now if it runs, at once if it starts
        later (a sweep's early termination may come before its trial's process exists)."""
        with self._lock:
            self._cancelled.add(key)
            process = self._processes.get(key)
            if process is not None and process.returncode is None:
                _terminate(process, self.ctx.grace)

    def drivers_path(self) -> Path:
        """The folder holding the copy of `drivers` as `mlops_local_drivers`, written once
        per run; steps that run a driver get it on PYTHONPATH."""
        from mlops.backends.local.shims import write_drivers

        with self._lock:
            if self._drivers is None:
                self._drivers = write_drivers(self.ctx.run_dir / ".drivers")
            return self._drivers

    def spawn(
        self,
        step: str,
        command: str,
        cwd: Path,
        env: dict[str, str],
        log: Path,
        timeout: float | None = None,
    ) -> int:
        with log.open("wb") as sink:
            process = subprocess.Popen(
                ["/bin/bash", "-c", command],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            with self._lock:
                if self._stopping or step in self._cancelled:
                    _terminate(process, self.ctx.grace)
                self._processes[step] = process
            timer = None
            if timeout is not None:
                timer = threading.Timer(timeout, self._step_timed_out, (step, process))
                timer.daemon = True
                timer.start()
            assert process.stdout is not None
            try:
                with process.stdout:
                    for line in iter(process.stdout.readline, b""):
                        sink.write(line)
                        if self.ctx.on_line is not None:
                            self.ctx.on_line(step, line.decode(errors="replace").rstrip("\n"))
                return process.wait()
            finally:
                if timer is not None:
                    timer.cancel()

    def _step_timed_out(self, step: str, process: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._timed_out.add(step)
        _terminate(process, self.ctx.grace)

    def environment(self, step: PlannedStep, mlflow_run: str) -> dict[str, str]:
        isolated = self.ctx.environments.get(step.id)
        python_bin = str(isolated or Path(sys.executable).parent)
        environment = {**os.environ, **step.component.environment_variables}
        tracking_uri = self.ctx.tracking.uri
        if isolated is not None:
            # the step's own venv, as `activate` would set it; the CLI's venv must not leak in
            environment["VIRTUAL_ENV"] = str(isolated.parent)
            for name in ("PYTHONHOME", "CONDA_PREFIX", "__PYVENV_LAUNCHER__"):
                environment.pop(name, None)
            given = self.ctx.isolated_tracking_uri
            assert given is not None, "no tracking server"
            tracking_uri = given() if callable(given) else given
        if step.component.uses_drivers:
            shim = str(self.drivers_path())
            given = environment.get("PYTHONPATH")
            environment["PYTHONPATH"] = f"{shim}{os.pathsep}{given}" if given else shim
        return {
            **environment,
            "PATH": f"{python_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MLFLOW_EXPERIMENT_ID": self.ctx.experiment_id,
            "MLFLOW_RUN_ID": mlflow_run,
            "AZUREML_RUN_ID": f"{self.ctx.run_id}/{step.id}",
            # one writer at a time in the local registry (the register step takes it)
            "MLOPS_REGISTRY_LOCK": str(self.ctx.tracking.registry_lock),
        }

    def input_text(self, value: object) -> str | None:
        if value is None:
            return None
        if isinstance(value, Upstream):
            return str(self.results[value.step].outputs[value.output])
        assert isinstance(value, Literal | LocalData)
        return value.text()

    def _reuse_key(self, step: PlannedStep) -> str:
        component = step.component
        inputs: dict[str, object] = {}
        for name, value in step.inputs.items():
            if isinstance(value, Literal):
                inputs[name] = [value.type, value.value]
            elif isinstance(value, LocalData):
                inputs[name] = ["data", self._hash(value.path)]
            elif isinstance(value, Upstream):
                inputs[name] = ["data", self._hash(self.results[value.step].outputs[value.output])]
            else:
                inputs[name] = None
        content: dict[str, object] = {
            "definition": component.definition,
            "code": self._code_hash(component.code) if component.code else None,
            "inputs": inputs,
            "outputs": {k: v.type for k, v in step.outputs.items()},
        }
        if step.sweep is not None:  # what it searches, how, and how it picks the best
            content["sweep"] = dataclasses.asdict(step.sweep)
        if step.id in self.ctx.environments and step.environment is not None:
            # what gets installed (a conda file edited re-runs the step); steps in the CLI's
            # environment keep the key they had before environments existed
            content["environment"] = step.environment.digest
        return step_key(content)

    def _code_hash(self, folder: Path) -> str:
        """Code folders are hashed once per run: steps of one component share them."""
        return self._memo(("code", folder), lambda: code_hash(folder))

    def _hash(self, path: Path) -> str:
        """Data is hashed once per run, however many steps read it."""
        return self._memo(("data", path), lambda: content_hash(path))

    def _memo(self, key: tuple[str, Path], compute: Callable[[], str]) -> str:
        with self._lock:
            cached = self._hashes.get(key)
        if cached is None:
            cached = compute()  # outside the lock: hashing may take a while
            with self._lock:
                self._hashes[key] = cached
        return cached


def _terminate(process: subprocess.Popen[bytes], grace: float) -> None:
    """Stop a step and everything it started (it runs in its own process group): SIGTERM now,
    SIGKILL after `grace` seconds if it is still there (a step may ignore SIGTERM). No poll():
    the step's own thread reaps it, after its output closed."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        killer = threading.Timer(grace, _kill, (process,))
        killer.daemon = True
        killer.start()


def _kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a step's process group. Its id cannot have been reused while the step's own
    process is unreaped (we reap it only after its output closed)."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
