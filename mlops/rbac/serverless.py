"""Serverless compute, the one compute route Azure gives no control over.

Azure ML runs a job on serverless compute when the job names no compute; the operation is
the same `workspaces/jobs/write` as a job on an existing cluster, so no role can allow one
and deny the other, and no documented Azure Policy alias tells them apart (Microsoft's
policy example denies serverless Spark only). `mlops run --env` therefore refuses a pipeline
with a step that would run serverless: a client-side guard, stated as such in the README.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def serverless_steps(job: Mapping[str, Any]) -> list[str]:
    """The steps of an Azure ML job document that name no compute (they would run serverless).

    A pipeline's steps inherit `settings.default_compute` (or the pipeline's `compute`); a
    command, sweep or Spark job at top level needs its own `compute`."""
    settings = job.get("settings") or {}
    default = job.get("compute") or (
        settings.get("default_compute") if isinstance(settings, Mapping) else None
    )
    steps = job.get("jobs")
    if job.get("type") != "pipeline" and not isinstance(steps, Mapping):
        return [] if default else ["(the job)"]
    if not isinstance(steps, Mapping):
        return []
    missing = []
    for name, step in steps.items():
        if not isinstance(step, Mapping):
            continue
        if step.get("type") == "pipeline" and isinstance(step.get("jobs"), Mapping):
            inner = dict(step)
            inner.setdefault("compute", step.get("compute") or default)
            missing += [f"{name}.{s}" for s in serverless_steps(inner)]
        elif not (step.get("compute") or default):
            missing.append(str(name))
    return missing
