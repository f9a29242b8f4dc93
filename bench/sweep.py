"""A local sweep's wall time beside running its trials one by one by hand.

Run: .venv/bin/python bench/sweep.py
The sweep is tests/pipelines/fixtures/sweep/grid.yml (a 2x3 grid, 2 trials at once, each
trial a Python process that imports MLflow and logs one metric); "by hand" is what a data
scientist does without it: one `mlops run` of a command job per combination, in turn, then
reading the six scores to find the best. Each figure is the median of 3 runs, in a fresh
copy of the fixture (no reuse), steps in this environment (--env-mode current).
"""

from __future__ import annotations

import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "pipelines" / "fixtures" / "sweep"
RUNS = 3
MLOPS = [sys.executable, "-m", "mlops"]
BY_HAND = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
type: command
code: src
command: >-
  python train.py --lr ${{inputs.lr}} --kind ${{inputs.kind}} --data ${{inputs.data}}
  --model ${{outputs.model}}
environment: azureml:AzureML-sklearn-1.5@latest
inputs:
  lr: 0.1
  kind: linear
  data: {type: uri_file, path: ./data/weights.json}
outputs:
  model: {type: uri_folder}
"""


def _project(folder: Path) -> Path:
    root = folder / "project"
    shutil.copytree(FIXTURE, root)
    (root / "mlops.yaml").write_text("project: {name: bench}\n")
    (root / "by_hand.yml").write_text(BY_HAND)
    return root


def _mlops(root: Path, *args: str) -> None:
    env = {**os.environ, "MLOPS_ENV_MODE": "current"}
    subprocess.run([*MLOPS, *args], cwd=root, env=env, check=True, capture_output=True)


def _median(seconds: list[float]) -> str:
    runs = ", ".join(f"{s:.1f}" for s in seconds)
    return f"{statistics.median(seconds):6.1f} s  (runs: {runs})"


def main() -> None:
    sweep, by_hand = [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as folder:
            root = _project(Path(folder))
            started = time.perf_counter()
            _mlops(root, "run", "grid.yml", "--no-cache")
            sweep.append(time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as folder:
            root = _project(Path(folder))
            started = time.perf_counter()
            for lr, kind in itertools.product(("0.1", "0.5"), ("linear", "tree", "stump")):
                _mlops(root, "run", "by_hand.yml", "--set", f"inputs.lr={lr}", "--set",
                       f"inputs.kind={kind}", "--no-cache")  # fmt: skip
            by_hand.append(time.perf_counter() - started)
    print(f"6 trials (2x3 grid), {os.cpu_count()} cores")
    print(f"mlops run grid.yml (sweep, 2 at once)   {_median(sweep)}")
    print(f"6 x mlops run, one by one (by hand)     {_median(by_hand)}")


if __name__ == "__main__":
    main()
