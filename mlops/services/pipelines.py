"""Loading and checking Azure ML pipeline YAML: the SDK's loaders first, then our bindings."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.errors import Issue, PipelineError, PipelineRefusedError
from mlops.pipeline.checks import check_component, check_job
from mlops.pipeline.spec import (
    AZURE_ONLY_JOB_TYPES,
    AzureOnlyError,
    Component,
    NotAJobError,
    PipelineJob,
    is_component_file,
    load_component,
    load_job,
    load_pipeline_job,
    read_yaml,
)

if TYPE_CHECKING:
    from mlops.config import LoadedConfig


def load_checked_job(path: Path, cache_dir: Path | None = None) -> PipelineJob:
    """Parse `path` (a pipeline or command job) and all it references; raise PipelineError
    unless Azure ML would accept it. What Azure ML accepts but ignores is in `job.warnings`.

    A successful SDK validation is remembered under `cache_dir`, keyed by the contents of
    every file involved and the SDK version, so unchanged pipelines skip the SDK import.
    """
    if not path.is_file():
        from mlops.config import display_path

        raise PipelineError(
            f"{display_path(path)} does not exist",
            hint="pass the pipeline job YAML, e.g. `mlops run pipelines/train.yml`",
        )
    try:
        job = load_job(path)
    except PipelineRefusedError as refused:  # the SDK's loaders would hang or overflow on it
        raise _rejected(path, _as_issues(refused, path)) from None
    except (NotAJobError, AzureOnlyError):
        raise
    except PipelineError as parse_error:
        sdk = _sdk_issues(path, "pipeline")
        if sdk:
            located = any(i.path for i in sdk)  # else add ours, which point at the line
            issues = sdk if located else [*sdk, *_as_issues(parse_error, path)]
            raise _rejected(path, issues) from None
        raise parse_error from None
    files = [job.path, *sorted({c.source for c in _components(job.root)} - {job.path})]
    marker = _marker(cache_dir, files)
    if marker is None or not marker.exists():
        sdk = _sdk_issues(path, "pipeline")
        if sdk:
            # some SDK messages carry no location: add ours, which point at the line
            located = any(i.path for i in sdk)
            raise _rejected(path, sdk if located else [*sdk, *check_job(job)])
    issues = check_job(job)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise _rejected(path, errors)
    job.warnings = [i for i in issues if i.severity != "error"]
    if marker is not None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    return job


@dataclass(frozen=True)
class FileCheck:
    path: Path
    kind: str
    issues: list[Issue]
    #: a job `mlops run` runs (a pipeline or command job), not a component or another file
    job: bool = False


def check_files(
    files: list[Path], loaded: LoadedConfig | None = None, *, mode: str | None = None
) -> list[FileCheck]:
    """Kind and problems of each Azure ML YAML file, without running anything.

    Files that a pipeline job uses as components, and files whose `$schema` names a
    component, are checked as components. A job file (pipeline or command job) gets every
    check `mlops run` makes before a step starts: its inputs are planned with the data of
    `loaded` (mlops.yaml, when there is one) and its environments resolved in `mode` (see
    `services.run.env_mode`), but nothing is built. Warnings are issues of severity
    "warning": what Azure ML accepts and the local run ignores.
    """
    from mlops.backends.aml_yaml import yaml_kind

    kinds: dict[Path, str] = {}
    results: dict[Path, FileCheck] = {}
    components: set[Path] = set()
    for path in files:
        try:
            data = read_yaml(path)
        except PipelineError as exc:
            results[path.resolve()] = FileCheck(path, "unreadable", _as_issues(exc, path))
            continue
        kinds[path.resolve()] = yaml_kind(data)
        if is_component_file(data):
            components.add(path.resolve())
    for path, kind in list(kinds.items()):
        if kind == "pipeline" and path not in components:
            with contextlib.suppress(PipelineError):
                for component in _components(load_pipeline_job(path).root):
                    if component.source in kinds and component.source != path:
                        used_as = (
                            "pipeline_component" if component.kind == "pipeline" else "command"
                        )
                        kinds[component.source] = used_as
                        components.add(component.source)
    for path, kind in kinds.items():
        if kind in ("pipeline", "command", "sweep", *AZURE_ONLY_JOB_TYPES) and (
            path not in components
        ):
            results[path] = FileCheck(path, kind, _check_job_file(path, loaded, mode), job=True)
        else:
            results[path] = FileCheck(path, kind, _check(path, kind))
    return [results[p.resolve()] for p in files]


def _check_job_file(path: Path, loaded: LoadedConfig | None, mode: str | None) -> list[Issue]:
    """What `mlops run` rejects before any step starts, as issues (warnings included)."""
    from mlops.services.run import plan_run

    try:
        job = load_checked_job(path)
        plan_run(loaded, job, {}, run_id="validate", mode=mode)
    except PipelineError as exc:
        return _as_issues(exc, path)
    return job.warnings


def _check(path: Path, kind: str) -> list[Issue]:
    """The SDK's complaints first, else ours; but files we refuse never reach the SDK."""
    if kind not in ("pipeline", "pipeline_component", "command"):
        return []
    try:
        component = load_component(path)
    except PipelineRefusedError as exc:
        return _as_issues(exc, path)
    except PipelineError as exc:
        sdk = _sdk_issues(path, "command" if kind == "command" else "pipeline_component")
        return sdk if any(i.path for i in sdk) else [*sdk, *_as_issues(exc, path)]
    issues = _sdk_issues(path, "command" if kind == "command" else "pipeline_component")
    if issues:
        return issues
    return check_component(component)


def _as_issues(exc: PipelineError, path: Path) -> list[Issue]:
    from mlops.config import display_path

    return exc.issues or [Issue("", exc.message, exc.hint, display_path(path), 1, 1)]


def _sdk_issues(path: Path, kind: str) -> list[Issue]:
    from mlops.backends.aml_yaml import load_issues

    return load_issues(path, kind)


def _rejected(path: Path, issues: list[Issue]) -> PipelineError:
    count = f"{len(issues)} problem{'s' if len(issues) != 1 else ''}"
    return PipelineError(
        f"{path.name} was rejected before any step ran: {count}",
        hint="fix the lines above, then run `mlops validate`",
        issues=issues,
    )


def _components(pipeline: Component) -> Iterator[Component]:
    for node in pipeline.jobs.values():
        if node.component is not None:
            yield node.component
            if node.component.kind == "pipeline":
                yield from _components(node.component)


def _marker(cache_dir: Path | None, files: list[Path]) -> Path | None:
    if cache_dir is None:
        return None
    digest = hashlib.sha256(f"azure-ai-ml {version('azure-ai-ml')}".encode())
    for file in files:
        digest.update(str(file).encode() + b"\0" + file.read_bytes() + b"\0")
    return cache_dir / "validated" / digest.hexdigest()
