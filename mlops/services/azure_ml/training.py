"""Continuous training: the pipeline submitted to the first environment's workspace with
lineage tags, followed to its end, the gate's decision read from the evaluate step."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.config.loader import LoadedConfig
from mlops.errors import BackendError, BadInputError, NotFoundError
from mlops.services.azure_ml.workspaces import OnEvent, model_name, workspace

if TYPE_CHECKING:
    from mlops.backends.azure.aml import JobState
    from mlops.backends.azure.clients import AzureClients


@dataclass
class AzureRun:
    job: JobState
    waited: bool
    model_name: str = ""

    @property
    def ok(self) -> bool:
        return not self.waited or self.job.status == "Completed"

    @property
    def gate(self) -> dict[str, str]:
        evaluate = self.job.step("evaluate")
        tags = evaluate.tags if evaluate else {}
        return {k: tags[k] for k in ("gate_decision", "gate_reason") if k in tags}

    @property
    def model(self) -> str | None:
        """NAME:VERSION the register step registered (its `registered_version` tag)."""
        register = self.job.step("register")
        version = register.tags.get("registered_version") if register else None
        return f"{self.model_name}:{version}" if version else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "job": self.job.name,
            "status": self.job.status,
            "url": self.job.url,
            "waited": self.waited,
            "steps": [{"step": s.name, "status": s.status} for s in self.job.steps],
            **self.gate,
            "model": self.model,
        }


#: polls that may fail in a row (a dropped connection, a token refresh) before the wait ends
MAX_FAILED_POLLS = 5

#: what a data input's `--set` may name on Azure ML: an asset or a storage location
AZURE_DATA = ("azureml:", "azureml://", "https://", "http://", "abfss://", "wasbs://", "adl://")


def check_azure_overrides(path: Path, overrides: dict[str, str]) -> None:
    """Exit 2 for a `--set` Azure ML could not honour: an input the pipeline does not
    declare, or a data input set to a local path (the workspace cannot read this machine)."""
    from mlops.config.checks import did_you_mean
    from mlops.errors import BadInputError
    from mlops.pipeline.spec import DATA_TYPES, read_yaml

    declared = read_yaml(path).get("inputs") or {}
    for name, value in overrides.items():
        if name not in declared:
            raise BadInputError(
                f"--set inputs.{name}: {path.name} has no input '{name}'",
                hint=did_you_mean(name, list(declared)) or "see the pipeline's inputs:",
            )
        spec = declared[name]
        data = isinstance(spec, dict) and str(spec.get("type", "uri_folder")) in DATA_TYPES
        if data and not value.startswith(AZURE_DATA):
            raise BadInputError(
                f"--set inputs.{name}={value}: on Azure ML a data input is an asset or a"
                " storage URI, not a path on this machine",
                hint="register it (`az ml data create --name NAME --version N --path"
                f" {value}`) and pass --set inputs.{name}=azureml:NAME:N",
            )


def refuse_serverless(path: Path) -> None:
    """Exit 2 for a pipeline with a step that names no compute: Azure ML would run it on
    serverless compute, which no Azure role can withhold from a data scientist."""
    from mlops.pipeline.spec import read_yaml
    from mlops.rbac.serverless import serverless_steps

    steps = serverless_steps(read_yaml(path))
    if steps:
        raise BadInputError(
            f"{path.name}: {', '.join(steps)} name(s) no compute, so Azure ML would run them on"
            " serverless compute, which this platform does not allow",
            hint="set settings.default_compute (e.g. azureml:cpu-cluster) or each step's compute"
            " to a cluster the platform engineers created",
        )


def run(
    loaded: LoadedConfig,
    env: str,
    pipeline: Path | None,
    overrides: dict[str, str],
    clients: AzureClients,
    *,
    force_register: bool = False,
    wait: bool = True,
    timeout_s: float = 4 * 3600,
    poll_s: float = 15.0,
    on_event: OnEvent | None = None,
    sleep: Callable[[float], None] = time.sleep,
    follow: str | None = None,
) -> AzureRun:
    """Submit the pipeline to `env`'s workspace with lineage tags; follow it to the end.

    With `follow` (a job name), submit nothing: follow that job, e.g. after a poll failed.
    A failed poll is tried again on the next interval; only `MAX_FAILED_POLLS` in a row end
    the wait, with the command that resumes it (the job goes on in Azure ML either way)."""
    from mlops.backends.azure import aml
    from mlops.gate import champion_version
    from mlops.services.retrain import trigger_tags
    from mlops.services.run import check_overrides, new_run_id, pipeline_path, provided_inputs

    target = workspace(loaded, env)
    ml = target.client(clients)
    notify = on_event or (lambda *_: None)
    experiment = model_name(loaded)
    if follow is not None:
        if overrides or force_register or pipeline is not None:
            raise BadInputError(
                "--follow follows a job already submitted: it takes no pipeline, --set or"
                " --force-register",
                hint=f"mlops run --env {env} --follow {follow}",
            )
        state = aml.JobState(follow, "Unknown", "")  # read by the first poll below
        notify("following", f"{follow} in {target.name}")
    else:
        check_overrides(overrides)
        path = pipeline_path(loaded, pipeline)
        check_azure_overrides(path, overrides)
        refuse_serverless(path)
        run_id = new_run_id()
        provided = provided_inputs(
            loaded,
            run_id,
            force_register=force_register,
            # the workspace's champion, by the rule the local run applies to its registry
            champion=lambda name: champion_version(aml.model_versions(ml, name)),
        )
        lineage = {k: provided[k] for k in ("git_commit", "git_branch", "build_id", "build_uri")}
        state = aml.submit(
            ml,
            path,
            experiment=experiment,
            inputs={**provided, **overrides},
            # why CT trains (MLOPS_TRIGGER) and the data version it tries (mlops.services.retrain)
            tags={**lineage, "mlops.env": env, "mlops.run_id": run_id, **trigger_tags()},
        )
        notify("submitted", f"{state.name} to {target.name}: {state.url}")
    if not wait:
        return AzureRun(state, waited=False, model_name=experiment)
    deadline = time.monotonic() + timeout_s
    seen: dict[str, str] = {}
    failed_polls = 0
    while True:
        try:
            state = aml.job_state(ml, state.name)
            failed_polls = 0
        except NotFoundError:
            if follow is None:
                raise
            raise BadInputError(
                f"no job {follow} in {target.name}: nothing to follow",
                hint="follow the name `mlops run --env ENV` printed when it submitted the job"
                " (the studio lists them under Jobs)",
            ) from None
        except BackendError as exc:
            failed_polls += 1
            if failed_polls >= MAX_FAILED_POLLS:
                raise BackendError(
                    f"lost job {state.name} after {failed_polls} failed polls ({exc.message});"
                    f" it goes on in Azure ML: {state.url}",
                    hint=f"resume following it: `mlops run --env {env} --follow {state.name}`",
                ) from None
            notify("poll failed", f"{exc.message}; trying again in {poll_s:g} s")
        else:
            for step in state.steps:
                if seen.get(step.name) != step.status:
                    seen[step.name] = step.status
                    notify(step.status, step.name)
            if state.done:
                break
        if time.monotonic() >= deadline:
            raise BackendError(
                f"job {state.name} is still {state.status} after {timeout_s:.0f} s;"
                f" it goes on in Azure ML: {state.url}",
                hint=f"wait longer: `mlops run --env {env} --follow {state.name} --timeout MIN`",
            )
        sleep(poll_s)
    result = AzureRun(state, waited=True, model_name=experiment)
    if not result.ok:
        failed = [s.name for s in state.steps if s.status in ("Failed", "Canceled")]
        raise BackendError(
            f"job {state.name} ended {state.status}"
            + (f" in {', '.join(failed)}" if failed else "")
            + f": {state.url}",
            hint="the step's logs are in the studio (Outputs + logs)",
        )
    return result
