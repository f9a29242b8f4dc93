"""`mlops run --env local`: check, plan and execute a pipeline job on this machine."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.config import LoadedConfig
from mlops.errors import BackendError, BadInputError, ConfigError
from mlops.pipeline.plan import RunPlan, plan_job

if TYPE_CHECKING:
    from mlops.backends.local.tracking import Tracking
    from mlops.backends.local.tracking_server import LazyTrackingServer
    from mlops.pipeline.spec import PipelineJob

#: the default of `mlops run --env-mode` (isolated when unset)
ENV_MODE_VARIABLE = "MLOPS_ENV_MODE"


@dataclass
class RunSummary:
    """What a pipeline run did, step by step; `ok` is False when any step failed."""

    run_id: str
    pipeline: Path
    run_dir: Path
    experiment: str
    mlflow_run_id: str
    duration: float
    steps: dict = field(default_factory=dict)  # step id -> executor.StepResult
    outputs: dict[str, Path] = field(default_factory=dict)
    gate: dict | None = None  # the gate's decision and what was registered, when there is one
    timed_out: bool = False  # the run passed `--timeout`

    @property
    def ok(self) -> bool:
        return not self.timed_out and all(
            s.status in ("completed", "reused") for s in self.steps.values()
        )

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "run_id": self.run_id,
            "pipeline": str(self.pipeline),
            "run_dir": str(self.run_dir),
            "experiment": self.experiment,
            "mlflow_run_id": self.mlflow_run_id,
            "duration_s": round(self.duration, 3),
            "steps": [
                {
                    "step": s.id,
                    "status": s.status,
                    "duration_s": round(s.duration, 3),
                    "reused_from": s.reused_from,
                    "outputs": {k: str(v) for k, v in s.outputs.items()},
                    "command": s.command,
                    "log": str(s.log) if s.log else None,
                    "exit_code": s.exit_code,
                    "reason": s.reason,
                    "mlflow_run_id": s.mlflow_run_id,
                    **({"sweep": s.sweep} if s.sweep is not None else {}),
                }
                for s in self.steps.values()
            ],
            "outputs": {k: str(v) for k, v in self.outputs.items()},
            "gate": self.gate,
            "timed_out": self.timed_out,
        }


def pipeline_path(loaded: LoadedConfig, given: Path | None) -> Path:
    """The pipeline to run: the one given, else `model.pipeline` from mlops.yaml."""
    if given is not None:
        return given.resolve()
    model = loaded.config.model
    if model is None:
        raise ConfigError(
            "no pipeline given, and mlops.yaml has no model section naming one",
            hint="pass the pipeline file (`mlops run pipelines/train.yml`), or add to"
            " mlops.yaml:\nmodel:\n  pipeline: pipelines/train.yml\n  primary_metric: ...",
        )
    return (loaded.root / model.pipeline).resolve()


def state_dir(loaded: LoadedConfig) -> Path:
    return (loaded.root / loaded.config.environments.local.state_dir).resolve()


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def provided_inputs(
    loaded: LoadedConfig,
    run_id: str,
    *,
    force_register: bool = False,
    champion: Callable[[str], str] | None = None,
) -> dict[str, str]:
    """Pipeline inputs mlops fills when a pipeline declares them, so mlops.yaml stays the one
    source of truth for the gate and every run carries its lineage. `champion(model_name)`
    gives the registry's champion version ("none"): an input, so the gate's steps are reused
    exactly while the champion and the gate's settings stay the same; by default the local
    registry's."""
    from mlops.gate import CHAMPION_INPUT, guardrails_text
    from mlops.services.lineage import build_lineage

    values = {
        **build_lineage(loaded.root),
        "pipeline_run_id": run_id,
        "force_register": str(force_register).lower(),
    }
    model = loaded.config.model
    if model is not None:
        name = model.name or loaded.config.project.name
        values |= {
            "model_name": name,
            "primary_metric": model.primary_metric,
            "direction": model.direction,
            "min_improvement": str(model.min_improvement),
            "guardrails": guardrails_text(model.guardrails),
        }
        if model.threshold is not None:
            values["threshold"] = str(model.threshold)
        if champion is None:
            from mlops.backends.local.registry import champion_version

            values[CHAMPION_INPUT] = champion_version(state_dir(loaded), name)
        else:
            values[CHAMPION_INPUT] = champion(name)
    return values


def check_overrides(overrides: dict[str, str]) -> None:
    """Refuse `--set` on inputs mlops owns (the gate's settings, lineage, forcing), for every
    backend: otherwise `--set inputs.threshold=0.5` would let a weak model through the gate."""
    from mlops.errors import Issue
    from mlops.gate import owned_override

    issues = []
    for name in overrides:
        owned = owned_override(name)
        if owned is not None:
            owner, fix = owned
            issues.append(
                Issue(
                    f"--set inputs.{name}",
                    f"this input is set by {owner}, not on the command line",
                    hint=fix,
                )
            )
    if issues:
        raise ConfigError(
            f"--set cannot change {len(issues)} input(s) that the gate and lineage rely on",
            hint="nothing has run",
            issues=issues,
        )


def env_mode(given: str | None = None) -> str:
    """The environment mode of a run: `given`, else $MLOPS_ENV_MODE, else "isolated"."""
    from mlops.environments import ENV_MODES

    mode = (given or os.environ.get(ENV_MODE_VARIABLE) or "isolated").strip()
    if mode not in ENV_MODES:
        where = "--env-mode" if given else ENV_MODE_VARIABLE
        raise BadInputError(
            f"{where}: unknown environment mode {mode!r}",
            hint="isolated (each step in the environment its component declares) or current"
            " (every step in the CLI's own environment)",
        )
    return mode


def prepare(
    loaded: LoadedConfig,
    pipeline: Path | None,
    overrides: dict[str, str],
    *,
    run_id: str,
    force_register: bool = False,
    mode: str | None = None,
) -> RunPlan:
    """Everything that can be rejected is rejected here, before any step runs: bad inputs,
    and environments that cannot be reproduced on this machine (in `mode` "isolated", the
    default; see `env_mode`)."""
    from mlops.services.pipelines import load_checked_job
    from mlops.services.retrain import trigger_tags

    check_overrides(overrides)
    env_mode(mode)  # a bad mode is bad input, before the pipeline is read
    trigger_tags()  # a bad MLOPS_TRIGGER too: the run's MLflow tags record it
    path = pipeline_path(loaded, pipeline)
    job = load_checked_job(path, cache_dir=state_dir(loaded) / "cache")
    return plan_run(loaded, job, overrides, run_id=run_id, force_register=force_register, mode=mode)


def plan_run(
    loaded: LoadedConfig | None,
    job: PipelineJob,
    overrides: dict[str, str],
    *,
    run_id: str,
    force_register: bool = False,
    mode: str | None = None,
) -> RunPlan:
    """Plan a checked `job` as `prepare` does: every input resolved (Azure data through the
    `data:` section of `loaded`, when there is a mlops.yaml) and every environment resolved,
    none built. `mlops validate` calls it too, so that it rejects what `mlops run` rejects."""
    chosen = env_mode(mode)
    data, data_root = ({}, job.path.parent) if loaded is None else (loaded.config.data, loaded.root)
    provided = (
        {} if loaded is None else provided_inputs(loaded, run_id, force_register=force_register)
    )
    declared = {k: v for k, v in provided.items() if k in job.root.inputs}
    plan = plan_job(
        job,
        overrides={**declared, **overrides},
        data=data,
        data_root=data_root,
        datastores=None if loaded is None else state_dir(loaded) / "datastores",
    )
    resolve_environments(plan, chosen)
    return plan


def resolve_environments(plan: RunPlan, mode: str) -> None:
    """Set each step's `environment`; raise PipelineError naming every component whose
    environment cannot be reproduced here (nothing has run)."""
    from mlops.environments import resolve
    from mlops.errors import PipelineError

    refused: list[PipelineError] = []
    for step in plan.steps.values():
        component = step.component
        try:
            step.environment = resolve(
                component.environment_definition,
                base=component.source.parent,
                file=component.source,
                mode=mode,  # type: ignore[arg-type]
            )
        except PipelineError as exc:
            if all(exc.message != seen.message for seen in refused):
                refused.append(exc)
    if len(refused) == 1:
        raise refused[0]
    if refused:
        raise PipelineError(
            f"{len(refused)} environments cannot be reproduced on this machine:\n"
            + "\n".join(f"  {exc.message}" for exc in refused),
            hint=refused[0].hint,
        )


def build_environments(
    plan: RunPlan, *, on_progress: Callable[[str], None] | None = None
) -> dict[str, Path]:
    """Build (or find in the cache) each distinct isolated environment of `plan` once; return
    step id -> its `bin` folder (steps in the CLI's environment are absent). Raises
    BackendError naming the environment and the components that declare it."""
    from mlops.config import display_path
    from mlops.environments.builder import ensure

    by_digest: dict[str, list] = {}
    for step in plan.steps.values():
        if step.environment is not None and step.environment.isolated:
            by_digest.setdefault(step.environment.digest, []).append(step)
        elif step.environment is not None and step.environment.notice and on_progress:
            on_progress(step.environment.notice)
    built: dict[str, Path] = {}
    for steps in by_digest.values():
        spec = steps[0].environment
        users = list(dict.fromkeys(display_path(s.component.source) for s in steps))
        try:
            folder = ensure(spec, on_progress=on_progress, used_by=users)
        except BackendError as exc:
            names = ", ".join(s.id for s in steps)
            raise BackendError(
                f"cannot build the environment {spec.source} of step(s) {names}"
                f" ({', '.join(users)}); nothing has run\n{exc.message}",
                hint=exc.hint,
            ) from None
        assert folder is not None  # an isolated spec always has a folder
        built |= {s.id: folder for s in steps}
    return built


def execute(
    loaded: LoadedConfig,
    plan: RunPlan,
    *,
    run_id: str,
    use_cache: bool = True,
    on_event: Callable | None = None,
    on_line: Callable[[str, str], None] | None = None,
    timeout_s: float | None = None,
    environments: dict[str, Path] | None = None,
    on_progress: Callable[[str], None] | None = None,
    on_note: Callable[[str, str], None] | None = None,
    server: LazyTrackingServer | None = None,
) -> RunSummary:
    """Run `plan` under `.mlops/runs/RUN_ID/`, tracked in MLflow. An interrupted run is
    recorded as KILLED and the interruption goes on up; a run past `timeout_s` as FAILED.

    `environments` is what `build_environments(plan)` returned (built here when None). When
    a step runs in its own environment, an MLflow tracking server over the run's store serves
    it for the duration of the run (`server`, from `tracking_server`, when the caller started
    it earlier; else one of its own), and is stopped however the run ends. `on_note` gets a
    step's progress (a sweep's trials: done, best so far) as (step, line)."""
    from mlops.backends.local.tracking import Tracking

    if environments is None:
        environments = build_environments(plan, on_progress=on_progress)
    started = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if server is None:
            server = stack.enter_context(tracking_server(loaded, run_id, early=bool(environments)))
        # the store created or migrated before any step's server opens it: by the server
        # when it was started early (no MLflow import here), else by MLflow here
        tracking = Tracking(
            state_dir(loaded), made_by=server.wait_store if server.started else None
        )
        (state_dir(loaded) / "runs" / run_id).mkdir(parents=True, exist_ok=True)
        return _execute(
            loaded,
            plan,
            run_id,
            tracking,
            started,
            use_cache,
            on_event,
            on_line,
            timeout_s,
            environments,
            server if environments else None,
            on_note=on_note,
        )


@contextlib.contextmanager
def tracking_server(
    loaded: LoadedConfig, run_id: str, *, early: bool = True
) -> Iterator[LazyTrackingServer]:
    """The MLflow server over the store of run `run_id`, for its steps that run in their own
    environments; stopped on the way out, however the run ends. Started on first use, or at
    once when `early` and the store is fresh (or another MLflow's): then MLflow has to be
    imported and the store made anyway, and the server does both while the caller plans.
    A run folder left holding only the server's log (nothing ran) is removed."""
    from mlops.backends.local._sqlstore import Store
    from mlops.backends.local.tracking_server import LazyTrackingServer

    state = state_dir(loaded)
    run_dir = state / "runs" / run_id
    server = LazyTrackingServer(state, run_dir / "tracking_server.log")
    store = Store.open(state) if early else None
    if store is not None:
        store.close()
    elif early:
        server.start()
    try:
        yield server
    finally:
        server.stop()
        with contextlib.suppress(OSError):
            if not server.asked and [p.name for p in run_dir.iterdir()] == [server.log.name]:
                server.log.unlink()
                run_dir.rmdir()
                run_dir.parent.rmdir()  # only when empty: other runs keep it


def _execute(
    loaded: LoadedConfig,
    plan: RunPlan,
    run_id: str,
    tracking: Tracking,
    started: float,
    use_cache: bool,
    on_event: Callable | None,
    on_line: Callable[[str, str], None] | None,
    timeout_s: float | None,
    environments: dict[str, Path],
    server_uri: Callable[[], str] | None,
    *,
    on_note: Callable[[str, str], None] | None = None,
) -> RunSummary:
    from mlops.backends.local.cache import StepCache
    from mlops.backends.local.executor import Executor, RunContext
    from mlops.backends.local.tracking import PIPELINE_TAG, owner_tags
    from mlops.services.retrain import local_data_tags, trigger_tags

    run_dir = state_dir(loaded) / "runs" / run_id
    experiment = plan.job.experiment_name or loaded.config.project.name
    experiment_id = tracking.experiment(experiment)
    parent = tracking.start(
        experiment_id,
        plan.job.display_name or run_id,
        tags={
            PIPELINE_TAG: run_id,
            "mlops.pipeline": _relative(plan.job.path, loaded.root),
            "mlops.default_compute": str(plan.job.root.settings.get("default_compute", "")),
            "mlops.default_datastore": str(plan.job.root.settings.get("default_datastore", "")),
            **_git_tags(loaded.root),
            **owner_tags(),
            **trigger_tags(),
            # the data it trains on, as Azure ML's job records it: CT's check skips a version
            # a completed run already tried (mlops.services.retrain.decide)
            **local_data_tags(plan.inputs),
        },
        params={k: v.text() for k, v in plan.inputs.items() if v is not None},
    )
    context = RunContext(
        run_id=run_id,
        run_dir=run_dir,
        tracking=tracking,
        experiment_id=experiment_id,
        parent_run_id=parent,
        cache=StepCache(state_dir(loaded)),
        use_cache=use_cache,
        parallelism=os.cpu_count() or 1,
        on_event=on_event or (lambda event: None),
        on_line=on_line,
        on_note=on_note,
        timeout=timeout_s,
        environments=environments,
        isolated_tracking_uri=server_uri,
    )
    executor = Executor(plan, context)
    try:
        results = executor.run()
    except BaseException:  # interrupted: the MLflow run must not stay RUNNING forever
        tracking.end(parent, "KILLED")
        raise
    summary = RunSummary(
        run_id=run_id,
        pipeline=plan.job.path,
        run_dir=run_dir,
        experiment=experiment,
        mlflow_run_id=parent,
        duration=time.perf_counter() - started,
        steps=results,
        outputs={
            name: results[ref.step].outputs[ref.output]
            for name, ref in plan.outputs.items()
            if ref.output in results[ref.step].outputs
        },
        gate=gate_outcome(results),
        timed_out=executor.timed_out,
    )
    if summary.gate:
        tracking.tag(parent, {f"mlops.gate.{k}": str(v) for k, v in summary.gate.items()})
    tracking.end(parent, "FINISHED" if summary.ok else "FAILED")
    (run_dir / "run.json").write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


GATE_REPORT, REGISTRATION = "gate_report.json", "registration.json"


def gate_outcome(results: dict) -> dict | None:
    """What the gate decided and what was registered, from the files the gate and register
    steps write (`gate_report.json`, `registration.json`); None for a pipeline without a gate.
    The register step's word is final: it decides again if the champion moved meanwhile."""
    found: dict[str, dict] = {}
    for result in results.values():
        for folder in result.outputs.values():
            for name in (GATE_REPORT, REGISTRATION):
                path = Path(folder) / name
                if path.is_file():
                    with contextlib.suppress(OSError, ValueError):
                        found[name] = json.loads(path.read_text(encoding="utf-8"))
    if not found:
        return None
    report, registration = found.get(GATE_REPORT, {}), found.get(REGISTRATION, {})
    return {
        "decision": registration.get("decision", report.get("decision")),
        "reason": registration.get("reason", report.get("reason")),
        "registered_version": registration.get("version"),
        "forced": bool(registration.get("forced", False)),
    }


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _git_tags(root: Path) -> dict[str, str]:
    """The commit the run came from, as MLflow records it, when the project is a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"mlflow.source.git.commit": commit}
