"""Every file `mlops render` derives from mlops.yaml, as (path, text) pairs.

Rendering is a pure function of the configuration: the same mlops.yaml gives the same bytes,
which is what lets `mlops render --check` tell a stale committed file from a current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops.config.root import Config
from mlops.rbac.model import role_model
from mlops.render.arm import Template
from mlops.render.infra import environment_template, shared_template
from mlops.render.pipelines import AZURE, FOLDER, SETUP, pipeline_files
from mlops.render.roles import governance_files
from mlops.serialize import dump_json, dump_yaml

SHARED = "shared"
YAML_HEADER = "# Rendered by `mlops render` from mlops.yaml: change mlops.yaml, not this file.\n"
#: every file mlops renders under .azuredevops/ (others there are the team's own)
PIPELINE_FILES = ("ci.yml", "ct.yml", "cd.yml", "infra.yml", SETUP, AZURE)


@dataclass(frozen=True)
class RenderedFile:
    path: str  # relative to the project root, '/'-separated
    text: str


def stacks(config: Config) -> dict[str, Template]:
    """Deployment stacks in apply order: the shared stack first, then each environment."""
    out = {SHARED: shared_template(config)}
    for env in config.environments.azure:
        out[env] = environment_template(config, env)
    return out


def stack_files(name: str, template: Template) -> list[RenderedFile]:
    return [
        RenderedFile(f"infra/{name}/main.json", dump_json(template.to_arm())),
        RenderedFile(f"infra/{name}/main.parameters.json", dump_json(template.parameters_file())),
    ]


def render(config: Config) -> list[RenderedFile]:
    """All rendered files of the project. A model repository bound to a platform renders
    its pipelines only: its infrastructure, roles and policies are the platform's, rendered
    and provisioned from the platform repository."""
    files: list[RenderedFile] = []
    if config.platform is None:
        for name, template in stacks(config).items():
            files.extend(stack_files(name, template))
        for name, document in governance_files(config, role_model(config).custom_roles).items():
            files.append(RenderedFile(f"infra/{name}", dump_json(document)))
    for name, document in pipeline_files(config).items():
        files.append(RenderedFile(f"{FOLDER}/{name}", YAML_HEADER + dump_yaml(document)))
    return files


@dataclass(frozen=True)
class Drift:
    """How the files on disk differ from what would be rendered."""

    changed: list[str]
    missing: list[str]
    extra: list[str]  # files in rendered folders that rendering no longer produces

    @property
    def stale(self) -> list[str]:
        return sorted(self.changed + self.missing + self.extra)


def compare(root: Path, files: list[RenderedFile]) -> Drift:
    changed, missing = [], []
    for f in files:
        target = root / f.path
        if not target.is_file():
            missing.append(f.path)
        elif target.read_text(encoding="utf-8") != f.text:
            changed.append(f.path)
    expected = {f.path for f in files}
    extra = []
    infra = root / "infra"
    if infra.is_dir():
        # the templates, and the teams' Kubernetes objects (mlops.render.roles, with teams on AKS)
        for path in sorted([*infra.glob("*/*.json"), *infra.glob("*/kubernetes/*")]):
            rel = path.relative_to(root).as_posix()
            if rel not in expected:
                extra.append(rel)
    for name in PIPELINE_FILES:
        rel = f"{FOLDER}/{name}"
        if rel not in expected and (root / rel).is_file():
            extra.append(rel)
    return Drift(changed, missing, extra)
