"""`mlops up`: the whole loop on this machine: train, gate, register, deploy, smoke-test."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlops.config import LoadedConfig
from mlops.errors import NotFoundError
from mlops.services import deploy, run


@dataclass
class UpSummary:
    steps: list[dict[str, Any]] = field(default_factory=list)
    run: Any = None  # run.RunSummary
    gate: dict[str, Any] | None = None
    model: Any = None  # registry.ModelVersion
    endpoint: Any = None  # serving.Endpoint
    smoke: Any = None  # deploy.SmokeResult

    @property
    def ok(self) -> bool:
        return bool(self.run and self.run.ok and self.smoke and self.smoke.ok)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "steps": self.steps,
            "run": self.run.to_dict() if self.run else None,
            "gate": self.gate,
            "model": None
            if self.model is None
            else {"name": self.model.name, "version": self.model.version, "tags": self.model.tags},
            "endpoint": self.endpoint.to_dict() if self.endpoint else None,
            "smoke": self.smoke.to_dict() if self.smoke else None,
        }


class _Clock:
    def __init__(self, summary: UpSummary) -> None:
        self.summary = summary
        self.started = time.perf_counter()

    def lap(self, step: str, detail: str) -> None:
        now = time.perf_counter()
        self.summary.steps.append(
            {"step": step, "seconds": round(now - self.started, 2), "detail": detail}
        )
        self.started = now


def up(
    loaded: LoadedConfig,
    *,
    use_cache: bool = True,
    mode: str | None = None,
    on_plan: Callable[[list[str]], Any] | None = None,
    on_event: Callable | None = None,
    progress: Callable[[str], None] = lambda message: None,
) -> UpSummary:
    """Run every stage; stop at the first that fails and report what happened so far.

    `mode` as for `mlops run --env-mode`: the steps and the server run in the environments
    the components and deployment.environment declare (one build each, cached), or all in
    the CLI's own. Both are resolved before anything runs, so a bad one fails early."""
    summary = UpSummary()
    clock = _Clock(summary)
    state = run.state_dir(loaded)
    state.mkdir(parents=True, exist_ok=True)
    clock.lap("set up", f"local state in {state}")

    run_id = run.new_run_id()
    # on a fresh project the steps' tracking server makes the store while the run is planned
    with run.tracking_server(loaded, run_id, early=run.env_mode(mode) == "isolated") as server:
        plan = run.prepare(loaded, None, {}, run_id=run_id, mode=mode)
        deploy.serving_environment(loaded, mode)  # refused now, not after training
        environments = run.build_environments(plan, on_progress=progress)
        if on_plan is not None:
            on_plan(list(plan.steps))
        summary.run = run.execute(
            loaded,
            plan,
            run_id=run_id,
            use_cache=use_cache,
            on_event=on_event,
            environments=environments,
            server=server,
        )
    reused = sum(s.status == "reused" for s in summary.run.steps.values())
    clock.lap(
        "train, gate, register",
        f"run {run_id}: {len(summary.run.steps) - reused} ran, {reused} reused",
    )
    if not summary.run.ok:
        return summary
    summary.gate = summary.run.gate

    try:
        summary.model = deploy.resolve_model(loaded, None)
    except NotFoundError as exc:
        raise NotFoundError(
            "the gate promoted no model and there is no champion to deploy",
            hint="see the gate's reason above; a forced version is never champion: deploy one"
            " by number with `mlops deploy --env local --model NAME:VERSION`",
        ) from exc
    summary.endpoint, started = deploy.deploy_local(loaded, None, mode=mode, progress=progress)
    clock.lap(
        "deploy",
        f"{'started' if started else 'already serving'} {summary.model.name}:"
        f"{summary.model.version} at {summary.endpoint.url}"
        f" (environment {summary.endpoint.environment or deploy.CURRENT})",
    )
    summary.smoke = deploy.smoke_local(loaded)
    checks = summary.smoke.checks
    clock.lap(
        "smoke test",
        ", ".join(f"{c['status']} in {c['latency_ms']['median']} ms" for c in checks)
        + ("" if summary.smoke.ok else ": FAILED"),
    )
    return summary
