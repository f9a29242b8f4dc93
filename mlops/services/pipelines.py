"""Loading and checking Azure ML pipeline YAML: the SDK's loaders first, then our bindings."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from mlops.errors import Issue, PipelineError, PipelineRefusedError
from mlops.pipeline.checks import check_component, check_job
from mlops.pipeline.spec import (
    Component,
    PipelineJob,
    load_component,
    load_pipeline_job,
    read_yaml,
)


def load_checked_job(path: Path, cache_dir: Path | None = None) -> PipelineJob:
    """Parse `path` and all it references; raise PipelineError unless Azure ML would accept it.

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
        job = load_pipeline_job(path)
    except PipelineRefusedError as refused:  # the SDK's loaders would hang or overflow on it
        raise _rejected(path, _as_issues(refused, path)) from None
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
    if issues:
        raise _rejected(path, issues)
    if marker is not None:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    return job


@dataclass(frozen=True)
class FileCheck:
    path: Path
    kind: str
    issues: list[Issue]


def check_files(files: list[Path]) -> list[FileCheck]:
    """Kind and problems of each Azure ML YAML file, without running anything.

    Files that a pipeline job uses as components are checked as components.
    """
    from mlops.backends.aml_yaml import yaml_kind

    kinds: dict[Path, str] = {}
    results: dict[Path, FileCheck] = {}
    for path in files:
        try:
            kinds[path.resolve()] = yaml_kind(read_yaml(path))
        except PipelineError as exc:
            results[path.resolve()] = FileCheck(path, "unreadable", _as_issues(exc, path))
    for path, kind in list(kinds.items()):
        if kind == "pipeline":
            with contextlib.suppress(PipelineError):
                for component in _components(load_pipeline_job(path).root):
                    if component.source in kinds and component.source != path:
                        used_as = (
                            "pipeline_component" if component.kind == "pipeline" else "command"
                        )
                        kinds[component.source] = used_as
    for path, kind in kinds.items():
        results[path] = FileCheck(path, kind, _check(path, kind))
    return [results[p.resolve()] for p in files]


def _check(path: Path, kind: str) -> list[Issue]:
    """The SDK's complaints first, else ours; but files we refuse never reach the SDK."""
    if kind not in ("pipeline", "pipeline_component", "command"):
        return []
    try:
        loaded = load_pipeline_job(path) if kind == "pipeline" else load_component(path)
    except PipelineRefusedError as exc:
        return _as_issues(exc, path)
    except PipelineError as exc:
        sdk = _sdk_issues(path, kind)
        return sdk if any(i.path for i in sdk) else [*sdk, *_as_issues(exc, path)]
    issues = _sdk_issues(path, kind)
    if issues:
        return issues
    if isinstance(loaded, PipelineJob):
        return check_job(loaded)
    return check_component(loaded)


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
