"""Loading and checking Azure ML pipeline YAML: the SDK's loaders first, then our bindings."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

from mlops.errors import Issue, PipelineError
from mlops.pipeline.checks import check_command, check_job
from mlops.pipeline.spec import Component, PipelineJob, load_component, load_pipeline_job


def load_checked_job(path: Path, cache_dir: Path | None = None) -> PipelineJob:
    """Parse `path` and all it references; raise PipelineError unless Azure ML would accept it.

    A successful SDK validation is remembered under `cache_dir`, keyed by the contents of
    every file involved and the SDK version, so unchanged pipelines skip the SDK import.
    """
    try:
        job = load_pipeline_job(path)
    except PipelineError as parse_error:
        sdk = _sdk_issues(path, "pipeline")
        if sdk:
            raise _rejected(path, sdk) from None
        raise parse_error from None
    files = [job.path, *sorted({c.source for c in _components(job.root)} - {job.path})]
    marker = _marker(cache_dir, files)
    if marker is None or not marker.exists():
        sdk = _sdk_issues(path, "pipeline")
        if sdk:
            raise _rejected(path, sdk)
    issues = check_job(job)
    if issues:
        raise _rejected(path, issues)
    if marker is not None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    return job


def check_file(path: Path) -> tuple[str, list[Issue]]:
    """Kind and problems of one Azure ML YAML file, without running anything."""
    from mlops.backends.aml_yaml import yaml_kind
    from mlops.pipeline.spec import read_yaml

    try:
        kind = yaml_kind(read_yaml(path))
    except PipelineError as exc:
        return "unreadable", exc.issues or [Issue("", exc.message, None, str(path), 1, 1)]
    if kind not in ("pipeline", "command"):
        return kind, []
    issues = _sdk_issues(path, kind)
    if issues:
        return kind, issues
    try:
        if kind == "pipeline":
            return kind, check_job(load_pipeline_job(path))
        return kind, list(check_command(load_component(path), "command"))
    except PipelineError as exc:
        return kind, exc.issues or [Issue("", exc.message, None, str(path), 1, 1)]


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
