"""Environment build times: uv (first build, cached reuse) beside `python -m venv` + pip.

Run: .venv/bin/python bench/env_build.py [REQUIREMENT ...]   (default: six==1.16.0 attrs==23.2.0)
Each figure is the median of 3 runs, every first build in an empty cache folder (uv's own
package cache stays warm after the first run, as it does on a developer's machine).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlops.environments import from_requirements
from mlops.environments.builder import ensure

RUNS = 3


def _median(seconds: list[float]) -> str:
    runs = ", ".join(f"{s * 1000:.1f}" for s in seconds)
    return f"{statistics.median(seconds) * 1000:8.1f} ms  (runs: {runs})"


def main(requirements: list[str]) -> None:
    spec = from_requirements(requirements)
    first, reuse, venv_pip = [], [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as folder:
            cache = Path(folder)
            started = time.perf_counter()
            ensure(spec, cache_dir=cache, on_progress=lambda _: None)
            first.append(time.perf_counter() - started)
            started = time.perf_counter()
            ensure(spec, cache_dir=cache, on_progress=lambda _: None)
            reuse.append(time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "venv", f"{folder}/v"], check=True)
            subprocess.run(
                [f"{folder}/v/bin/python", "-m", "pip", "install", "-q", *requirements],
                check=True,
            )
            venv_pip.append(time.perf_counter() - started)
    print(f"requirements: {' '.join(requirements)}  (Python {spec.python_version})")
    print(f"uv, first build     {_median(first)}")
    print(f"uv, cached reuse    {_median(reuse)}")
    print(f"venv + pip install  {_median(venv_pip)}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["six==1.16.0", "attrs==23.2.0"])
