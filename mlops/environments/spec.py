"""What a component's `environment:` asks for, as a pip requirement set with a cache key.

Pure: reads the conda file a component names, imports no SDK, typer or rich.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlops.environments import conda
from mlops.environments.curated import Curated, lookup
from mlops.errors import PipelineError

Kind = Literal["conda", "pip", "curated", "image", "current"]
#: "isolated": each step in the environment its component declares (built once, cached);
#: "current": every step in the CLI's own environment, as before environments existed.
EnvMode = Literal["isolated", "current"]
ENV_MODES: tuple[str, ...] = ("isolated", "current")

#: bump when the layout of a built environment changes, so old ones are not reused
FORMAT = 1

_REGISTRY = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/environments?/(?P<name>[^/]+)"
    r"/(?:versions/(?P<version>[^/]+)|labels/(?P<label>[^/]+))/?$"
)
_WORKSPACE = re.compile(
    r"^azureml:(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]*)(?::(?P<version>[^:@]+)|@(?P<label>[^:@]+))?$"
)


@dataclass(frozen=True)
class EnvSpec:
    """An environment to build: a Python version (None: the current interpreter's) and the pip
    requirements to install into it. `source` says where it came from, for messages; `notice`
    is one line to show the user (an image that cannot be rebuilt, a version not vendored)."""

    kind: Kind
    python: str | None = None
    requirements: tuple[str, ...] = ()
    source: str = ""
    notice: str | None = None
    image: str | None = None  # the image Azure ML runs it as, when known (not in the digest)

    @property
    def isolated(self) -> bool:
        """True when steps run in an environment of their own; False for "image"/"current"."""
        return self.kind not in ("image", "current")

    @property
    def seed(self) -> bool:
        """Conda environments come with pip (and setuptools and wheel before Python 3.12);
        steps written for them may call `pip` or import `pkg_resources`."""
        return self.kind in ("conda", "curated")

    @property
    def python_version(self) -> str:
        """The Python the environment is built with: the declared one, else the current."""
        return self.python or f"{sys.version_info.major}.{sys.version_info.minor}"

    @property
    def digest(self) -> str:
        """The cache key: what gets installed, for which Python and platform. Two components
        asking for the same packages share one environment, whatever their files say."""
        content = {
            "format": FORMAT,
            "python": self.python_version,
            "requirements": list(self.requirements),
            "seed": self.seed,
            "platform": f"{sys.platform}-{platform.machine()}",
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "python": self.python,
            "requirements": list(self.requirements),
            "source": self.source,
            "notice": self.notice,
            "image": self.image,
        }


def resolve(
    environment: Any,
    *,
    base: Path,
    file: Path | None = None,
    mode: EnvMode = "isolated",
) -> EnvSpec:
    """The EnvSpec of a component's `environment:` value (a reference string or an inline
    mapping), reading a `conda_file:` relative to the folder `base`.

    `file` is the component file, named in errors. With `mode="current"` every environment
    resolves to kind "current" without being read: steps run in the CLI's own environment.
    Raises PipelineError for an environment that cannot be reproduced on this machine.
    """
    shown = _shown(file or base)
    if mode == "current":
        return EnvSpec("current", source="--env-mode current")
    if mode not in ENV_MODES:
        raise PipelineError(f"unknown environment mode {mode!r}", hint="use isolated or current")
    if environment is None:
        return EnvSpec("current", source=f"{shown}: no environment")
    if isinstance(environment, str):
        return _reference(environment.strip(), shown)
    if isinstance(environment, dict):
        return _inline(environment, base, shown)
    raise PipelineError(
        f"{shown}: environment must be a reference or a mapping, got {type(environment).__name__}"
    )


def from_requirements(requirements: list[str], *, python: str | None = None) -> EnvSpec:
    """An EnvSpec for a plain pip requirement list (tools, benchmarks, tests)."""
    return EnvSpec("pip", python, _normalized(requirements), source="requirements")


def _reference(text: str, shown: str) -> EnvSpec:
    registry = _REGISTRY.match(text)
    workspace = _WORKSPACE.match(text)
    if registry and registry["registry"].lower() == "azureml":
        name, version = registry["name"], registry["version"]
    elif workspace:
        name, version = workspace["name"], workspace["version"]
    else:
        name, version = None, None
    curated = lookup(name) if name else None
    if curated is None:
        raise PipelineError(
            f"{shown}: environment '{_printable(text)}' is registered in Azure ML;"
            " it cannot be rebuilt on this machine",
            hint="declare it inline in the component, as Azure ML also accepts:\n"
            "  environment:\n"
            "    image: mcr.microsoft.com/azureml/openmpi5.0-ubuntu24.04\n"
            "    conda_file: conda.yml\n"
            "or run every step in the CLI's own environment: `mlops run --env-mode current`",
        )
    return _curated(curated, version, text)


def _curated(curated: Curated, version: str | None, reference: str) -> EnvSpec:
    translated = conda.translate_all(list(curated.conda))
    notice = None
    if version is not None:
        notice = (
            f"{curated.name} version {version} is not vendored: using the pins of"
            f" {curated.snapshot} (what @latest gives here)"
        )
    return EnvSpec(
        "curated",
        translated.python,
        _normalized([*translated.requirements, *curated.pip]),
        source=f"{reference} ({curated.snapshot})",
        notice=notice,
        image=curated.image,
    )


def _inline(environment: dict[str, Any], base: Path, shown: str) -> EnvSpec:
    conda_file = environment.get("conda_file")
    image = environment.get("image")
    if conda_file is not None:
        if isinstance(conda_file, dict):
            return _conda(conda_file, f"{shown}: inline conda_file")
        if not isinstance(conda_file, str) or not conda_file.strip():
            raise PipelineError(f"{shown}: conda_file must be a path or a mapping")
        return _conda(_read_conda(base, conda_file, shown), _shown(base / conda_file))
    if environment.get("build") is not None:
        what = "a Docker build context"
    elif image:
        what = f"the image {_printable(str(image))}"
    else:
        raise PipelineError(
            f"{shown}: the inline environment has neither image, conda_file nor build",
            hint="give a conda_file, as Azure ML requires one of them",
        )
    return EnvSpec(
        "image",
        image=str(image) if image else None,
        source=f"{shown}: {what}",
        notice=f"{shown} runs in the current environment: {what} needs Docker to rebuild;"
        " add a conda_file to run it in its own environment",
    )


def _read_conda(base: Path, reference: str, shown: str) -> dict[str, Any]:
    from mlops.pipeline.spec import read_yaml  # limits, UTF-8 and YAML errors with a location

    try:
        return _plain(read_yaml(base / reference))
    except (OSError, ValueError):  # a NUL byte, a name too long, a symlink loop
        raise PipelineError(
            f"{shown}: conda_file '{_printable(reference)}' is not a usable path"
        ) from None


def _conda(data: dict[str, Any], where: str) -> EnvSpec:
    dependencies = data.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise PipelineError(f"{where}: dependencies must be a list")
    conda_specs: list[str] = []
    pip_lines: list[str] = []
    for entry in dependencies:
        if isinstance(entry, dict) and set(entry) == {"pip"}:
            pip_lines.extend(_pip_lines(entry["pip"], where))
        elif isinstance(entry, str) and entry.strip():
            conda_specs.append(entry.strip())
        else:
            raise PipelineError(
                f"{where}: dependency {_printable(str(entry))} is neither a conda package"
                " nor a `pip:` list"
            )
    try:
        translated = conda.translate_all(conda_specs)
    except ValueError as bad:
        raise PipelineError(
            f"{where}: '{_printable(str(bad))}' is not a conda package spec"
        ) from None
    if translated.refused:
        names = ", ".join(translated.refused)
        raise PipelineError(
            f"{where}: conda package(s) {names} have no PyPI equivalent to install locally",
            hint="move a PyPI replacement under `pip:` in the conda file, or run every step"
            " in the CLI's own environment: `mlops run --env-mode current`",
        )
    notice = None
    if translated.dropped:
        notice = (
            f"{where}: left out conda-only {', '.join(translated.dropped)}"
            " (PyPI wheels bundle what they need)"
        )
    return EnvSpec(
        "conda",
        translated.python,
        _normalized([*translated.requirements, *pip_lines]),
        source=where,
        notice=notice,
    )


def _pip_lines(lines: Any, where: str) -> list[str]:
    if not isinstance(lines, list):
        raise PipelineError(f"{where}: `pip:` must be a list of requirements")
    out = []
    for line in lines:
        text = str(line).strip()
        if not text or text.startswith("#"):
            continue
        if "\n" in text or "\r" in text or "\0" in text:
            raise PipelineError(f"{where}: pip requirement {_printable(text)} spans lines")
        if text.startswith(("-r", "-c", "-e", "--requirement", "--constraint", "--editable")):
            raise PipelineError(
                f"{where}: pip option '{_printable(text)}' names another file",
                hint="list the packages under `pip:` themselves: Azure ML builds the"
                " environment from the conda file alone",
            )
        out.append(text)
    return out


def _normalized(requirements: list[str]) -> tuple[str, ...]:
    """Sorted and deduplicated, spaces removed around operators: one set, one digest."""
    cleaned = {re.sub(r"\s*([=<>!~,;]+)\s*", r"\1", r.strip()) for r in requirements}
    return tuple(sorted(r for r in cleaned if r))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _shown(path: Path) -> str:
    from mlops.config import display_path

    return display_path(path)


def _printable(text: str) -> str:
    from mlops.config.checks import printable

    return printable(text)
