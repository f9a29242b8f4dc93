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


def create(target: Path, name: str | None = None) -> NewProject:
    """Copy the template into `target` (new or empty) and name the project; nothing is written
    when the name or the folder is unusable."""
    from pydantic import ValidationError
    from ruamel.yaml import YAML

    from mlops.config import Config, checks

    name = name or target.name
    problem = f"'{name}' cannot be a project name"
    hint = "use a short name of lowercase letters, digits and single hyphens, e.g. --name churn"
    try:
        named = Config.model_validate(
            {"project": {"name": name}, "azure": {"name_prefix": "mlops"}}
        )
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
