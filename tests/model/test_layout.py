"""Exploration stays apart: production code and pipelines never import from experiments/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_production_code_never_imports_experiments():
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("src", "pipelines")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".yml", ".yaml")
        and re.search(r"^\s*(from|import)\s+experiments|experiments/", path.read_text(), re.M)
    ]
    assert offenders == []
