"""Flatten a pipeline job into the command steps that run, with every input resolved.

Nested pipeline components disappear here: their steps become `outer/inner` steps, their
inputs and outputs become direct links between leaf steps, as Azure ML's graph compiler does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.config.checks import did_you_mean
from mlops.config.project import DataAsset
from mlops.errors import Issue, PipelineError
from mlops.pipeline.expressions import whole_binding
from mlops.pipeline.graph import order
from mlops.pipeline.spec import (
    DATA_TYPES,
    Component,
    InputDecl,
    OutputDecl,
    PipelineJob,
    Where,
)

if TYPE_CHECKING:
    from mlops.environments.spec import EnvSpec

AZURE_SCHEMES = ("azureml:", "https://", "http://", "abfss://", "wasbs://", "adl://")


@dataclass(frozen=True)
class Literal:
    value: Any
    type: str

    def text(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class LocalData:
    path: Path
    type: str
    asset: str | None = None  # NAME:VERSION when it came from an Azure data reference

    def text(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class Upstream:
    step: str
    output: str


Value = Literal | LocalData | Upstream | None  # None: an optional input left absent


@dataclass
class PlannedStep:
    id: str
    component: Component
    inputs: dict[str, Value]
    outputs: dict[str, OutputDecl]
    where: Where
    compute: str | None = None
    timeout: float | None = None  # seconds (the step's limits.timeout)
    #: outputs written to a fixed folder (an `azureml://datastores/...` path), not the run's
    output_paths: dict[str, Path] = field(default_factory=dict)
    #: where it runs, set by `services.run.prepare`; None: the CLI's own environment
    environment: EnvSpec | None = None
    #: a sweep step's settings (`mlops.pipeline.sweep.SweepSpec`): its trials run `component`
    sweep: Any = None

    @property
    def depends_on(self) -> set[str]:
        return {v.step for v in self.inputs.values() if isinstance(v, Upstream)}


@dataclass
class RunPlan:
    job: PipelineJob
    steps: dict[str, PlannedStep] = field(default_factory=dict)
    outputs: dict[str, Upstream] = field(default_factory=dict)
    inputs: dict[str, Value] = field(default_factory=dict)

    @property
    def continue_on_step_failure(self) -> bool:
        return bool(self.job.root.settings.get("continue_on_step_failure", False))


def plan_job(
    job: PipelineJob,
    *,
    overrides: dict[str, str] | None = None,
    data: dict[str, DataAsset] | None = None,
    data_root: Path | None = None,
    datastores: Path | None = None,
) -> RunPlan:
    """Resolve every input of every step; raise PipelineError listing all that cannot be.

    An `azureml://datastores/NAME/paths/PATH` output or input is the `local_path` of the
    `data` entry whose `azure_path` it is, else the folder `datastores/NAME/PATH` (default
    `.mlops/datastores` beside the job), so a later step or job reads what an earlier wrote.
    """
    planner = _Planner(job, data or {}, data_root or job.path.parent)
    planner.datastores = datastores or job.path.parent / ".mlops" / "datastores"
    plan = planner.plan(overrides or {})
    if planner.issues:
        raise PipelineError(
            f"{job.path.name} cannot run: {len(planner.issues)} problem(s)",
            hint="fix the inputs above; nothing has run",
            issues=planner.issues,
        )
    return plan


class _Planner:
    def __init__(self, job: PipelineJob, data: dict[str, DataAsset], data_root: Path) -> None:
        self.job = job
        self.data = data
        self.data_root = data_root
        self.issues: list[Issue] = []
        self.run = RunPlan(job)

    def plan(self, overrides: dict[str, str]) -> RunPlan:
        root = self.job.root
        for name in overrides:
            if name not in root.inputs:
                self.issues.append(
                    Where(self.job.path).issue(
                        f"inputs.{name}",
                        f"--set inputs.{name}: the pipeline has no input '{name}'",
                        did_you_mean(name, list(root.inputs)),
                    )
                )
        values: dict[str, Value] = {}
        consumers = _consumers(root)
        for decl in root.inputs.values():
            where = root.input_where.get(decl.name, root.where)
            users = consumers.get(decl.name, [])
            used_by = f" (used by step {', '.join(repr(u) for u in users)})" if users else ""
            who = f"pipeline input '{decl.name}'{used_by}"
            if decl.name in overrides:
                values[decl.name] = self._override(decl, overrides[decl.name], where)
            else:
                raw = root.input_values.get(decl.name)
                values[decl.name] = self._value(decl, raw, root.source.parent, who, where)
        self.run.inputs = values
        paths = {o.name: o.path for o in root.outputs.values() if o.path}
        self.run.outputs = self._flatten(root, "", values, paths)
        return self.run

    def _flatten(
        self,
        pipeline: Component,
        prefix: str,
        inputs: dict[str, Value],
        out_paths: dict[str, str] | None = None,
    ) -> dict:
        """`out_paths`: the `path:` each output of `pipeline` is written to, where it has one."""
        out_paths = out_paths or {}
        produced: dict[str, dict[str, Upstream]] = {}
        outputs: dict[str, Upstream] = {}
        for name in order(pipeline):
            node = pipeline.jobs[name]
            component = node.component
            if component is None:
                continue
            step_id = f"{prefix}{name}"
            values: dict[str, Value] = {}
            for decl in component.inputs.values():
                where = node.input_where.get(decl.name, node.where)
                who = f"step '{step_id}' input '{decl.name}'"
                if decl.name not in node.inputs:
                    values[decl.name] = self._value(
                        decl, decl.default, component.source.parent, who, where
                    )
                    continue
                raw = node.inputs[decl.name]
                ref = whole_binding(raw)
                if ref and ref[:2] == ("parent", "inputs"):
                    values[decl.name] = inputs.get(ref[2])
                elif ref and ref[:2] == ("parent", "jobs"):
                    values[decl.name] = produced.get(ref[2], {}).get(ref[4])
                else:
                    values[decl.name] = self._value(decl, raw, pipeline.source.parent, who, where)
            paths = self._output_paths(node, out_paths)
            if component.kind == "pipeline":
                step_outputs = self._flatten(component, f"{step_id}/", values, paths)
            else:
                self.run.steps[step_id] = PlannedStep(
                    id=step_id,
                    component=component,
                    inputs=values,
                    outputs=component.outputs,
                    where=node.where,
                    compute=node.compute or pipeline.settings.get("default_compute"),
                    timeout=node.timeout,
                    sweep=node.sweep,
                    output_paths={
                        name: folder
                        for name, raw in paths.items()
                        if (folder := self._datastore_folder(raw)) is not None
                    },
                )
                step_outputs = {o: Upstream(step_id, o) for o in component.outputs}
            produced[name] = step_outputs
            for output, raw in node.outputs.items():
                ref = whole_binding(raw)
                if ref and ref[:2] == ("parent", "outputs") and output in step_outputs:
                    outputs[ref[2]] = step_outputs[output]
        return outputs

    def _output_paths(self, node: Any, out_paths: dict[str, str]) -> dict[str, str]:
        """Output name -> `path:` for the outputs of `node` that have one: written on the
        step (`{type, path}`), on the component, or on the pipeline output it is bound to."""
        paths = {}
        for name, decl in (node.component.outputs if node.component else {}).items():
            raw = node.outputs.get(name)
            ref = whole_binding(raw)
            if isinstance(raw, dict) and raw.get("path"):
                paths[name] = str(raw["path"])
            elif ref and ref[:2] == ("parent", "outputs") and ref[2] in out_paths:
                paths[name] = out_paths[ref[2]]
            elif decl.path:
                paths[name] = decl.path
        return paths

    def _datastore_folder(self, raw: str) -> Path | None:
        """The local folder of an `azureml://datastores/NAME/paths/PATH`; None for other paths."""
        if not raw.startswith("azureml://datastores/"):
            return None
        for asset in self.data.values():
            if asset.local_path and str(asset.azure_path or "").rstrip("/") == raw.rstrip("/"):
                return (self.data_root / asset.local_path).resolve()
        store, _, path = raw.removeprefix("azureml://datastores/").partition("/paths/")
        parts = [p for p in (store, *path.split("/")) if p]
        if not store or not path or any(p in (".", "..") for p in parts):
            return None
        return self.datastores.joinpath(*parts)

    def _override(self, decl: InputDecl, text: str, where: Where) -> Value:
        who = f"--set inputs.{decl.name}"
        if decl.type in DATA_TYPES:
            return self._data(decl, text, Path.cwd(), who, where)
        return self._literal(decl, text, who, where)

    def _value(self, decl: InputDecl, raw: Any, base: Path, who: str, where: Where) -> Value:
        if isinstance(raw, dict):
            raw = raw.get("path", raw.get("value", raw.get("default")))
        if raw is None:
            return None
        if decl.type in DATA_TYPES:
            return self._data(decl, str(raw), base, who, where)
        return self._literal(decl, raw, who, where)

    def _literal(self, decl: InputDecl, raw: Any, who: str, where: Where) -> Value:
        kind = decl.type if decl.type in ("string", "integer", "number", "boolean") else "string"
        try:
            return Literal(_coerce(raw, kind), kind)
        except ValueError:
            self.issues.append(
                where.issue(decl.name, f"{who}: expected {_ARTICLE[kind]}, got {raw!r}")
            )
            return None

    def _data(self, decl: InputDecl, raw: str, base: Path, who: str, where: Where) -> Value:
        kind = decl.type if decl.type in DATA_TYPES else "uri_folder"
        if raw.startswith(AZURE_SCHEMES):
            return self._azure_data(decl, raw, kind, who, where)
        path = (base / raw).resolve()
        if not path.exists():
            self.issues.append(
                where.issue(
                    decl.name,
                    f"{who}: {raw} does not exist (looked for {path})",
                    "paths in pipeline YAML are relative to the file they are written in",
                )
            )
            return None
        return LocalData(path, kind)

    def _azure_data(self, decl: InputDecl, raw: str, kind: str, who: str, where: Where) -> Value:
        name, version = _asset_reference(raw)
        for asset_name, asset in self.data.items():
            if (name == asset_name or raw == asset.azure_path) and asset.local_path:
                path = (self.data_root / asset.local_path).resolve()
                if not path.exists():
                    self.issues.append(
                        where.issue(
                            decl.name,
                            f"{who}: {raw} maps to data.{asset_name}.local_path in mlops.yaml,"
                            f" but {path} does not exist",
                        )
                    )
                    return None
                return LocalData(path, kind, f"{asset_name}:{version or asset.version}")
        folder = self._datastore_folder(raw)
        if folder is not None and folder.exists():  # written by an earlier job, or copied here
            return LocalData(folder, kind)
        self.issues.append(
            where.issue(
                decl.name,
                f"{who} refers to Azure data {raw}, which mlops.yaml does not map to a local path",
                _data_hint(raw, name, version),
            )
        )
        return None


_ARTICLE = {"string": "a string", "integer": "an integer", "number": "a number"}
_ARTICLE["boolean"] = "true or false"


def _coerce(raw: Any, kind: str) -> Any:
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "false"):
            return str(raw).lower() == "true"
        raise ValueError(raw)
    if kind == "integer":
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError(raw)
        return int(raw)
    if kind == "number":
        if isinstance(raw, bool):
            raise ValueError(raw)
        return float(raw)
    return str(raw)


def _consumers(pipeline: Component) -> dict[str, list[str]]:
    """Pipeline input name -> the steps that bind to it, for messages."""
    users: dict[str, list[str]] = {}
    for node in pipeline.jobs.values():
        for value in node.inputs.values():
            ref = whole_binding(value)
            if ref and ref[:2] == ("parent", "inputs") and len(ref) == 3:
                users.setdefault(ref[2], []).append(node.name)
    return users


def _data_hint(raw: str, name: str | None, version: str | None) -> str:
    """The mlops.yaml entry that maps `raw` to a local copy, with the key each kind needs
    (see `mlops.config.project.DataAsset`): a data asset is found by its entry's name (and
    `version`), any other reference by its `azure_path`; the local copy is `local_path`."""
    if name is not None:  # azureml:NAME:VERSION or azureml:NAME@latest
        pinned = f"    version: '{version}'\n" if version and version != "latest" else ""
        return (
            f"add to mlops.yaml the data asset {name}, with a local copy of it:\ndata:\n"
            f"  {name}:\n    local_path: data/...\n{pinned}    azure_path: {raw}"
        )
    if raw.startswith(("https://", "http://")):
        file = raw.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "download"
        entry = _entry_name(file)
        return (
            f"a web URL is not read at run time: download it to a local file (for example"
            f" `curl -fL -o data/{file} '{raw}'`), then point local_path at that file in"
            f" mlops.yaml:\ndata:\n  {entry}:\n    local_path: data/{file}\n"
            f"    azure_path: {raw}"
        )
    if raw.startswith("azureml://datastores/"):
        store, _, path = raw.removeprefix("azureml://datastores/").partition("/paths/")
        return (
            f"copy the data to .mlops/datastores/{store}/{path.rstrip('/')} (where a job whose"
            " output has this path writes it), or add to mlops.yaml:\ndata:\n  NAME:\n"
            f"    local_path: data/...\n    azure_path: {raw}"
        )
    if raw.startswith("azureml://"):
        return (
            "copy the data here and add to mlops.yaml:\ndata:\n  NAME:\n"
            f"    local_path: data/...\n    azure_path: {raw}"
        )
    return (  # abfss://, wasbs://, adl://: storage paths
        "copy the data here (for example with azcopy) and add to mlops.yaml:\ndata:\n"
        f"  NAME:\n    local_path: data/...\n    azure_path: {raw}"
    )


def _entry_name(file: str) -> str:
    """A data entry name from a file name: its stem, lowercase, in the characters names use."""
    stem = file.split(".", 1)[0].lower()
    name = "".join(c if c.isalnum() else "-" for c in stem).strip("-")
    return name or "NAME"


def _asset_reference(raw: str) -> tuple[str | None, str | None]:
    """NAME and VERSION of `azureml:NAME:VERSION` or `azureml:NAME@latest`."""
    if not raw.startswith("azureml:") or raw.startswith("azureml://"):
        return None, None
    body = raw.removeprefix("azureml:")
    if "@" in body:
        name, _, label = body.partition("@")
        return name, label
    name, _, version = body.partition(":")
    return name, version or None
