"""A platform repository with teams and model repositories beside it, as folders on disk."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

FRAUD_DS = "11111111-1111-1111-1111-111111111111"
FRAUD_ENG = "22222222-2222-2222-2222-222222222222"

PLATFORM = f"""\
# the platform of Contoso's model teams
project: {{name: core}}
azure: {{name_prefix: ct}}
environments:
  dev: {{}}
  prod:
    approval: {{approvers: [platform_engineers]}}
teams:
  # fraud detection, onboarded first
  fraud:
    data_scientists:
      - name: sg-fraud-ds
        object_id: {FRAUD_DS}
    engineers:
      - name: sg-fraud-eng
        object_id: {FRAUD_ENG}
    repositories: [fraud, fraud-batch]
    contacts: [fraud-leads@contoso.com]
    quotas:
      cores: {{dev: 24, prod: 8}}
      endpoint_instances: {{prod: 4}}
      monthly_budget: 1500
"""

MODEL = """\
project: {name: fraud}
platform:
  path: ../platform/mlops.yaml
  team: fraud
deployment:
  instance_count: 2
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`platform/` and `fraud/` side by side, as two checkouts; the current folder is fraud/."""
    write(tmp_path / "platform" / "mlops.yaml", PLATFORM)
    write(tmp_path / "fraud" / "mlops.yaml", MODEL)
    monkeypatch.chdir(tmp_path / "fraud")
    return tmp_path


@pytest.fixture
def edit(workspace: Path) -> Callable[[str, str, str], None]:
    """Replace text in a file of the workspace (`platform` or `fraud`), failing if absent."""

    def replace(repository: str, old: str, new: str) -> None:
        path = workspace / repository / "mlops.yaml"
        text = path.read_text()
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, 1))

    return replace


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path
