"""The environments that the components of pipeline and component files declare."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mlops.environments.spec import EnvMode, EnvSpec, resolve
from mlops.errors import BadInputError

_YAML = (".yml", ".yaml")


@dataclass
class Declared:
    """One environment and the component files that declare it (as shown to users)."""

    spec: EnvSpec
    used_by: list[str] = field(default_factory=list)


def declared_environments(paths: list[Path], *, mode: EnvMode = "isolated") -> list[Declared]:
    """Every distinct environment declared by the command components of `paths` (files, or
    folders searched for *.yml/*.yaml), in file order. A pipeline file is checked as
    `mlops run` checks it; YAML files that are neither a pipeline nor a component are skipped.
    Raises PipelineError for a file that cannot run or an environment that cannot be built."""
    from mlops.config import display_path
    from mlops.pipeline.spec import Component, load_component, read_yaml
    from mlops.services.pipelines import load_checked_job

    found: dict[str, Declared] = {}
    seen: set[Path] = set()

    def add(component: Component) -> None:
        if component.kind == "pipeline":
            for node in component.jobs.values():
                if node.component is not None:
                    add(node.component)
            return
        key = (component.source.resolve(), component.name, repr(component.environment))
        shown = display_path(component.source)
        spec = resolve(
            component.environment, base=component.source.parent, file=component.source, mode=mode
        )
        entry = found.setdefault(spec.digest if spec.isolated else repr(key), Declared(spec))
        if shown not in entry.used_by:
            entry.used_by.append(shown)

    for file in _yaml_files(paths):
        if file.resolve() in seen:
            continue
        seen.add(file.resolve())
        kind = read_yaml(file).get("type")
        if kind == "pipeline":
            add(load_checked_job(file).root)
        elif kind in ("command", None) and "command" in read_yaml(file):
            add(load_component(file))
    return list(found.values())


def _yaml_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in _YAML and p.is_file())
        elif path.is_file():
            yield path
        else:
            raise BadInputError(
                f"{path} does not exist", hint="give pipeline or component files, or folders"
            )
