"""Start-up stays instant: no SDK or data-science module is imported by help or validation.

Each check runs in a fresh interpreter, so modules imported by other tests cannot hide a leak.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

HEAVY = ("azure", "mlflow", "sklearn", "pandas", "numpy")

PROBE = """
import json, sys
sys.argv = ["mlops", *{args!r}]
from mlops.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.__stderr__)
"""


def _modules_after(args: list[str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], cwd=REPO, capture_output=True, text=True
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "args",
    [["--help"], ["config", "validate"], ["config", "show"], ["run", "--help"], ["env", "--help"]],
)
def test_command_imports_no_sdk_or_data_science_module(args):
    loaded = _modules_after(args)
    leaked = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert leaked == []


def test_help_does_not_even_import_pydantic():
    assert "pydantic" not in _modules_after(["--help"])


@pytest.mark.parametrize(
    "layer",
    [
        "mlops.config",
        "mlops.naming",
        "mlops.serialize",
        "mlops.pipeline.plan",
        "mlops.pipeline.checks",
        "mlops.render.files",
        "mlops.plan.changes",
        "mlops.plan.noise",
        "mlops.plan.roles",
        "mlops.rbac.check",
        "mlops.plan.rollout",
        "mlops.render.endpoint",
        "mlops.environments.spec",
        "mlops.pipeline.model",
        "mlops.gate",
    ],
)
def test_pure_layers_import_no_sdk_typer_or_rich(layer):
    code = f"import sys, {layer}; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    roots = {m.split(".")[0] for m in done.stdout.split()}
    assert roots.isdisjoint({*HEAVY, "typer", "rich", "click"})
