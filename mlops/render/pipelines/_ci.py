"""ci.yml: tests, lint, security scans and coverage on every pull request and push."""

from __future__ import annotations

from typing import Any

from mlops.config.root import Config
from mlops.render.pipelines._common import (
    SETUP,
    _pool,
    _script,
)

#: pytest's `pythonpath` and the wheel's `packages` in pyproject.toml name the project's own
#: code: `src/` in every project, and `mlops/` in the repository that holds the platform's
#: code (a generated project gets mlops from its dependencies, so it is not measured there).
#: Each step that needs the list derives it (steps share no shell)
_CODE = """
code=$(python - <<'PY'
import pathlib
import tomllib

tool = tomllib.loads(pathlib.Path("pyproject.toml").read_text()).get("tool", {})
named = tool.get("pytest", {}).get("ini_options", {}).get("pythonpath", [])
named = [named] if isinstance(named, str) else list(named)
wheel = tool.get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
named += wheel.get("packages", [])
tops = {str(entry).strip("./").split("/")[0] for entry in named} - {"", "tests"}
code = sorted(top for top in tops if pathlib.Path(top).is_dir())
if not code:
    raise SystemExit(
        "pyproject.toml names no code folder: set [tool.pytest.ini_options] pythonpath"
        " or [tool.hatch.build.targets.wheel] packages"
    )
print(" ".join(code))
PY
)
echo "the project's code: $code"
"""
#: bandit's `-l` flags: report, and fail on, findings of this severity or higher (bandit man
#: page: "-l for LOW, -ll for MEDIUM, -lll for HIGH"; it exits 1 when any finding is reported)
BANDIT_LEVEL = {"low": "-l", "medium": "-ll", "high": "-lll"}


def _security(scan: Any) -> list[dict[str, Any]]:
    """pip-audit fails on any known vulnerability in the installed dependencies: it has no
    severity filter (an open request, pypa/pip-audit#654), so mlops.yaml's severity applies
    to bandit alone, the static analysis of the project's code."""
    if scan is None:
        return []
    return [
        _script(
            "python -m pip install pip-audit bandit\n"
            "# pip-audit has no severity filter (pypa/pip-audit#654): any known vulnerability"
            " fails\n"
            "pip-audit\n" + _CODE.lstrip() + f"bandit -r $code {BANDIT_LEVEL[scan.severity]}",
            "Security: dependencies and static analysis",
        )
    ]


def _coverage(fail_under: int | None) -> str:
    """pytest measuring every code folder, a Cobertura report, and the threshold if any."""
    threshold = f" --cov-fail-under={fail_under}" if fail_under is not None else ""
    return (
        _CODE.lstrip()
        + "cov=()\n"
        + 'for path in $code; do cov+=("--cov=$path"); done\n'
        + 'pytest --junitxml=test-results.xml "${cov[@]}" --cov-report=xml:coverage.xml'
        + threshold
    )


def ci(config: Config) -> dict[str, Any]:
    """Pull requests (through the branch policy) and every branch push. Coverage measures the
    code folders pyproject.toml names, published (Cobertura) and held to
    `devops.coverage_fail_under`; the security step (`devops.security`) runs pip-audit (any
    known vulnerability fails) and bandit at mlops.yaml's severity."""
    quality = config.devops
    return {
        "trigger": {"branches": {"include": ["*"]}},
        "pool": _pool(config),
        "steps": [
            {"template": SETUP},
            _script("ruff check .\nruff format --check .", "Lint"),
            _script(_coverage(quality.coverage_fail_under), "Tests"),
            {
                "task": "PublishTestResults@2",
                "displayName": "Publish test results",
                "condition": "succeededOrFailed()",
                "inputs": {
                    "testResultsFormat": "JUnit",
                    "testResultsFiles": "test-results.xml",
                    "failTaskOnFailedTests": True,
                },
            },
            {
                # @1, deprecated, because it is the version the Azure Pipelines schema
                # check-jsonschema vendors accepts: it names @2 in its task list but defines
                # no step for it, so any @2 step fails validation
                "task": "PublishCodeCoverageResults@1",
                "displayName": "Publish coverage",
                "condition": "succeededOrFailed()",
                "inputs": {
                    "codeCoverageTool": "Cobertura",
                    "summaryFileLocation": "coverage.xml",
                    "failIfCoverageEmpty": True,
                },
            },
            *_security(quality.security),
            _script("mlops render --check", "Rendered files are current"),
            _script("mlops validate", "Azure ML YAML loads"),
            _script("mlops run --env local", "Train on the sample data"),
        ],
    }
