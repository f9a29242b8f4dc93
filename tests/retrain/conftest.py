"""A trained local project and an Azure ML fake for the retraining decision."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from mlops.config.loader import LoadedConfig
from tests.aml.conftest import aml, clients, make_project  # noqa: F401 (fixtures by name)
from tests.conftest import trained_new_project

#: what Azure DevOps replaces `$(Name)` macros in a script with, for running it here
MACROS = {"Build.ArtifactStagingDirectory": "{staging}"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mlops init` + `mlops run`: version 1 is champion, trained on the project's data."""
    return trained_new_project(tmp_path_factory.mktemp("retrain"))


@pytest.fixture
def azure_project(tmp_path: Path) -> LoadedConfig:
    return make_project(tmp_path)


def run_step_script(script: str, mlops_answer: str, expected_args: str, folder: Path) -> dict:
    """Run a rendered step's bash script as the agent would (macros expanded), with `mlops`
    answering `mlops_answer` when called with exactly `expected_args` (anything else fails
    the script). Returns the output variables it set and the build tags it added."""
    staging = folder / "staging"
    staging.mkdir(exist_ok=True)
    answer = folder / "answer.json"
    answer.write_text(mlops_answer, encoding="utf-8")
    for name, value in MACROS.items():
        script = script.replace(f"$({name})", value.format(staging=staging))
    prelude = (
        f'mlops() {{ [ "$*" = {expected_args!r} ] || {{ echo "mlops $*" >&2; exit 9; }};'
        f" cat {str(answer)!r}; }}\n"
    )
    done = subprocess.run(
        ["bash", "-c", prelude + script], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outputs = dict(
        re.findall(r"##vso\[task\.setvariable variable=(\w+);isOutput=true\](.*)", done.stdout)
    )
    tags = re.findall(r"##vso\[build\.addbuildtag\](.*)", done.stdout)
    return {"outputs": outputs, "tags": tags}


def condition_fires(condition: str, step: str, outputs: dict[str, str]) -> bool:
    """Evaluate the train job's condition as Azure DevOps would, for the one form CT renders:
    `and(succeeded(), eq(dependencies.check.outputs['STEP.VAR'], 'VALUE'))` (the check job
    succeeded); any other form fails the test rather than being guessed at."""
    m = re.fullmatch(
        r"and\(succeeded\(\), eq\(dependencies\.check\.outputs\['(\w+)\.(\w+)'\], '([^']*)'\)\)",
        condition,
    )
    assert m, f"a condition this test cannot evaluate: {condition}"
    assert m[1] == step
    return outputs.get(m[2]) == m[3]
