"""`mlops init`: a new model project from this repository's own reference project.

One source: the template is the reference project itself (this repository's `src/`,
`pipelines/`, `data/`, `experiments/`, `tests/model/` and `mlops.yaml`), packed into the
wheel under `mlops/_template/` and read from the checkout in an editable install.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.errors import BadInputError, MlopsError

# what a new project gets, relative to the template root
TEMPLATE_PATHS = (
    "mlops.yaml",
    "schemas/mlops.schema.json",
    ".gitignore",
    "data",
    "src",
    "pipelines",
    "experiments",
    "tests/__init__.py",
    "tests/model",
)
IGNORED = ("__pycache__", "*.pyc", ".mlops", ".pytest_cache")
PACKAGED = Path(__file__).resolve().parents[1] / "_template"
CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class NewProject:
    root: Path
    name: str
    files: list[str]


def template_root() -> Path:
    """The packed template in a wheel, else the checkout this package runs from."""
    for root in (PACKAGED, CHECKOUT):
        if all((root / p).exists() for p in TEMPLATE_PATHS):
            return root
    raise MlopsError(
        "this installation of mlops has no project template",
        hint="reinstall mlops from its wheel or from a checkout of its repository",
    )


def create(
    target: Path, name: str | None = None, platform: str | None = None, team: str | None = None
) -> NewProject:
    """Copy the template into `target` (new or empty) and name the project; nothing is written
    when the name or the folder is unusable.

    With `platform` (the platform's mlops.yaml, its folder, or its repository's URL with a
    checkout beside `target`) and `team`, the project is a model repository bound to that
    platform: its mlops.yaml keeps only the project sections and names the platform."""
    from pydantic import ValidationError
    from ruamel.yaml import YAML

    from mlops.config import Config, checks

    name = name or target.name
    problem = f"'{name}' cannot be a project name"
    hint = "use a short name of lowercase letters, digits and single hyphens, e.g. --name churn"
    # the names Azure will see: with the platform's prefix and environments when bound to one
    settings: dict = {"azure": {"name_prefix": "mlops"}}
    binding, platform_source = (
        _binding(target, name, platform, team) if platform or team else (None, None)
    )
    if platform_source is not None:
        settings = {k: v for k, v in platform_source.items() if k in _PLATFORM_SECTIONS}
    try:
        named = Config.model_validate({**settings, "project": {"name": name}})
    except ValidationError as exc:
        raise BadInputError(f"{problem}: {exc.errors()[0]['msg']}", hint=hint) from None
    errors = [i.message for i in checks.check(named) if i.severity == "error"]
    if errors:
        raise BadInputError(f"{problem}: {errors[0]}", hint=hint)
    if target.exists() and any(target.iterdir()):
        raise BadInputError(
            f"{target} exists and is not empty", hint="choose a new folder; nothing was written"
        )
    source = template_root()
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    config = yaml.load((source / "mlops.yaml").read_text(encoding="utf-8"))
    config["project"]["name"] = name
    config["project"]["description"] = f"{name}: a model project created by `mlops init`."
    config["model"]["name"] = name
    if binding is not None:
        config = _bound(config, binding)
        _check_bound(target, yaml, config)
    pipeline_file = config["model"]["pipeline"]
    pipeline = yaml.load((source / pipeline_file).read_text(encoding="utf-8"))
    pipeline["experiment_name"] = name
    pipeline["display_name"] = f"{name}-training"
    pipeline["inputs"]["model_name"] = name

    target.mkdir(parents=True, exist_ok=True)
    for relative in TEMPLATE_PATHS:
        origin, copy = source / relative, target / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, copy, ignore=shutil.ignore_patterns(*IGNORED))
        else:
            shutil.copy2(origin, copy)
    _dump(yaml, config, target / "mlops.yaml")
    _dump(yaml, pipeline, target / pipeline_file)
    (target / "pyproject.toml").write_text(_pyproject(name), encoding="utf-8")
    (target / "README.md").write_text(_readme(name), encoding="utf-8")
    _render(target)
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    return NewProject(target.resolve(), name, files)


#: what a bound project's names depend on, from its platform
_PLATFORM_SECTIONS = ("azure", "environments")


def _binding(
    target: Path, name: str, platform: str | None, team: str | None
) -> tuple[dict[str, str], Any]:
    """The `platform:` section of a model repository bound to `platform` as `team`, checked
    against the platform's config (the team exists and owns repository `name`), and the
    platform's file as read."""
    import os
    import re

    from mlops.config import display_path
    from mlops.services.teams import platform_config

    if not platform or not team:
        missing = "--team" if platform else "--platform"
        raise BadInputError(
            f"{missing} is missing: a model repository bound to a platform names both",
            hint="e.g. mlops init fraud-model --platform ../platform --team fraud",
        )
    url = re.fullmatch(r"(?:https://|git@|ssh://)\S+?/(?:_git/)?([^/]+?)(?:\.git)?/?", platform)
    binding: dict[str, str] = {}
    if url:  # the platform repository, checked out beside the new one (as pipelines do)
        repository = url.group(1)
        found = target.resolve().parent / repository / "mlops.yaml"
        if not found.is_file():
            raise BadInputError(
                f"the platform repository '{repository}' is not checked out beside {target}",
                hint=f"git clone {platform} {display_path(found.parent)}, then run this again",
            )
        binding |= {"repository": repository, "ref": "refs/heads/main"}
    else:
        found = Path(platform)
        found = found / "mlops.yaml" if found.is_dir() else found
        if not found.is_file():
            raise BadInputError(
                f"no platform config at {platform}",
                hint="pass the platform repository's folder or its mlops.yaml",
            )
    loaded = platform_config(found)
    owner = loaded.config.teams.get(team)
    if owner is None:
        raise BadInputError(
            f"team '{team}' is not declared in {display_path(found)}",
            hint=f"onboard it first: mlops -c {display_path(found)} team add {team} ...",
        )
    if name.lower() not in {r.lower() for r in owner.repositories}:
        raise BadInputError(
            f"team '{team}' does not own a repository '{name}' in {display_path(found)}",
            hint=f"add '{name}' to teams.{team}.repositories there (or --name one it owns:"
            f" {', '.join(owner.repositories) or 'it owns none yet'})",
        )
    relative = os.path.relpath(found.resolve(), target.resolve())
    return {"path": Path(relative).as_posix(), **binding, "team": team}, loaded.source


def _bound(config, binding: dict[str, str]):
    """The template's config with only the project sections, and `platform:` after project."""
    from ruamel.yaml.comments import CommentedMap

    from mlops.config.teams import PROJECT_SECTIONS

    project = config["project"]
    project.ca.items.pop(list(project)[-1], None)  # the template's "platform sections" banner
    kept = CommentedMap()
    for key in config:
        if key in PROJECT_SECTIONS:
            kept[key] = config[key]
        if key == "project":
            kept["platform"] = CommentedMap(binding)
    kept.yaml_set_comment_before_after_key(
        "platform",
        before="the platform this model runs on, and the team that owns it: the platform's\n"
        "sections (azure, environments, network, identities, devops, compute) come from there",
    )
    kept.yaml_set_start_comment(
        "yaml-language-server: $schema=./schemas/mlops.schema.json\n"
        "The model project's configuration; its platform's comes from platform.path.\n"
        "Check both with `mlops config validate`; see them merged with `mlops config show`."
    )
    return kept


def _check_bound(target: Path, yaml, config) -> None:
    """The new mlops.yaml validated with its platform before anything is written."""
    from mlops.config import load_config

    stream = io.StringIO()
    yaml.dump(config, stream)
    load_config(target.resolve() / "mlops.yaml", stream.getvalue())


def _render(root: Path) -> None:
    """What mlops.yaml derives (`.azuredevops/` CI and the ARM templates), so the project's
    CI exists from the first commit and its `mlops render --check` step passes."""
    from mlops.config import load_config
    from mlops.services import render

    render.write(load_config(root / "mlops.yaml"))


def _dump(yaml, data, path: Path) -> None:
    stream = io.StringIO()
    yaml.dump(data, stream)
    path.write_text(stream.getvalue(), encoding="utf-8")


#: the distribution that provides the `mlops` command (the PyPI name `mlops` is another project)
DISTRIBUTION = "azure-mlops-scaffold"


def _pyproject(name: str) -> str:
    """The new project's dependencies, `dev` extra (what its CI installs), pytest and ruff
    settings. Its code runs from src/ and is installable, so `pip install -e ".[dev]"` works."""
    q = json.dumps
    package = min(p.name for p in (template_root() / "src").iterdir() if p.is_dir())
    return "\n".join(
        [
            "[build-system]",
            'requires = ["hatchling>=1.24"]',
            'build-backend = "hatchling.build"',
            "",
            "[project]",
            f"name = {q(name)}",
            'version = "0.1.0"',
            'requires-python = ">=3.11"',
            f"dependencies = [{q(DISTRIBUTION + '[model]')}]",
            "",
            "[project.optional-dependencies]",
            '# what CI installs (.azuredevops/templates/setup.yml: pip install -e ".[dev]")',
            f'dev = [{q(DISTRIBUTION + "[model]")}, "pytest>=8.2", "pytest-cov>=5.0", "ruff>=0.6"]',
            "",
            "[tool.hatch.build]",
            'dev-mode-dirs = ["src"]  # editable: src/ on the path, as pytest puts it',
            "",
            "[tool.hatch.build.targets.wheel]",
            f"packages = [{q('src/' + package)}]",
            "",
            "[tool.pytest.ini_options]",
            'testpaths = ["tests"]',
            'pythonpath = ["src"]',
            "# third-party noise: MLflow's advice on type hints, its SQLAlchemy deprecations",
            'filterwarnings = ["ignore::UserWarning:mlflow.*", "ignore::DeprecationWarning"]',
            "",
            "[tool.ruff]",
            "line-length = 100",
            'target-version = "py311"',
            "",
            "[tool.ruff.lint]",
            'select = ["E", "F", "W", "I", "B", "UP", "SIM", "RUF"]',
            "",
        ]
    )


def _readme(name: str) -> str:
    return f"""# {name}

A model project on the `mlops` platform, created by `mlops init` from the reference project
(a breast-cancer screening classifier: replace it with your model).

Install it with mlops (the `{DISTRIBUTION}` distribution) and its dev tools, as its CI
does:

```bash
pip install -e ".[dev]"
pytest                                   # the model's unit tests
mlops up                                 # train, gate, register, serve locally, smoke-test
mlops run                                # train, gate and register only
mlops models show {name}                 # the champion, its lineage and the gate's evidence
mlops run --set inputs.regularization=0.5    # another C: the gate decides, with evidence
```

- `src/diagnosis/`: production code (prep, train, evaluate = the gate, register, score).
- `pipelines/train.yml`: the Azure ML pipeline; the same file runs locally and in Azure ML.
- `experiments/`: exploration, never imported by production code.
- `mlops.yaml`: the one source of truth (`mlops config show` prints it with defaults).
- `.azuredevops/` and `infra/`: rendered from `mlops.yaml` by `mlops render`; never edit them.
"""
