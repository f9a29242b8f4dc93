"""What `mlops run` adds per step: a 10-step pipeline of no-op Python steps against the same
10 commands run one after another by hand, in the same run.

Usage: python bench/runner_overhead.py [--runs N] [--output json]

Steps are chained through their outputs, so both sides run them one at a time; a second
pipeline of 10 independent steps shows what parallel execution gives back. Every pipeline
run uses --no-cache (each step really runs). The tracking store and the validation cache
are warmed by one untimed run first; a cold first run (new .mlops/) is reported apart.
Goal: overhead at most 0.3 s per step.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = 10
NOOP = "python -c pass"


def _pipeline(chained: bool, steps: int = STEPS) -> str:
    lines = [
        "$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
        "type: pipeline",
        "experiment_name: bench",
        "jobs:",
    ]
    for i in range(steps):
        lines += [
            f"  s{i}:",
            "    type: command",
            f"    command: {NOOP}" + (" ${{inputs.previous}}" if chained and i else ""),
            "    environment: azureml:bench@latest",
        ]
        if chained and i:
            lines += ["    inputs:", f"      previous: ${{{{parent.jobs.s{i - 1}.outputs.out}}}}"]
        lines += ["    outputs:", "      out:", "        type: uri_folder"]
    return "\n".join(lines) + "\n"


def _time(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def _by_hand(cwd: Path) -> float:
    """The same commands with the same `python` the runner gives its steps (this venv's)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    for _ in range(STEPS):
        subprocess.run(["/bin/bash", "-c", NOOP], cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", choices=["table", "json"], default="table")
    args = parser.parse_args()
    mlops = [str(Path(sys.executable).parent / "mlops")]
    if not Path(mlops[0]).exists():
        mlops = [sys.executable, "-m", "mlops"]

    project = Path(tempfile.mkdtemp(prefix="mlops-bench-"))
    try:
        (project / "mlops.yaml").write_text("project: {name: bench}\n")
        (project / "chained.yml").write_text(_pipeline(chained=True))
        (project / "independent.yml").write_text(_pipeline(chained=False))
        (project / "single.yml").write_text(_pipeline(chained=True, steps=1))
        run = [*mlops, "run", "--no-cache"]
        cold = _time([*run, "chained.yml"], project)
        for warm in ("independent.yml", "single.yml"):  # warm their validation caches too
            _time([*run, warm], project)
        samples: dict[str, list[float]] = {
            "mlops run (chained)": [],
            "by hand": [],
            "mlops run (independent)": [],
            "mlops run (1 step)": [],
            "import mlflow store": [],
        }
        importing = [sys.executable, "-c", "import mlflow.store.tracking.sqlalchemy_store"]
        for _ in range(args.runs):
            samples["mlops run (chained)"].append(_time([*run, "chained.yml"], project))
            samples["by hand"].append(_by_hand(project))
            samples["mlops run (independent)"].append(_time([*run, "independent.yml"], project))
            samples["mlops run (1 step)"].append(_time([*run, "single.yml"], project))
            samples["import mlflow store"].append(_time(importing, project))
    finally:
        shutil.rmtree(project, ignore_errors=True)

    medians = {name: statistics.median(values) for name, values in samples.items()}
    per_step = (medians["mlops run (chained)"] - medians["by hand"]) / STEPS
    marginal = (medians["mlops run (chained)"] - medians["mlops run (1 step)"]) / (STEPS - 1)
    if args.output == "json":
        print(
            json.dumps(
                {
                    "runs": args.runs,
                    "steps": STEPS,
                    "median_s": medians,
                    "cold_first_run_s": cold,
                    "overhead_per_step_s": per_step,
                    "marginal_cost_per_extra_step_s": marginal,
                },
                indent=2,
            )
        )
        return
    print(f"{STEPS} no-op python steps, median of {args.runs} runs each")
    for name, value in medians.items():
        print(f"  {name:<28} {value:7.2f} s")
    print(f"  {'overhead per step (chained)':<28} {per_step:7.3f} s   (goal: <= 0.300 s)")
    print(f"  {'marginal cost per extra step':<28} {marginal:7.3f} s   (10 steps against 1)")
    print(f"  {'cold first run (new .mlops)':<28} {cold:7.2f} s   (creates the MLflow store)")


if __name__ == "__main__":
    main()
