"""How long `mlops --help` takes next to a hello-world typer app's `--help`, in one run.

Usage: python bench/cli_startup.py [--runs N] [--output json]

Both are run as fresh interpreters, interleaved so machine noise hits both alike; the median
of N runs is printed with the ratio. Goal: mlops within 1.3x of the hello-world app.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _commands() -> dict[str, list[str]]:
    """Like for like: both apps started with `python -m` (compiled .pyc, same runpy path)."""
    commands = {
        "python -m mlops --help": [sys.executable, "-m", "mlops", "--help"],
        "python -m hello-world --help": [sys.executable, "-m", "_hello_typer", "--help"],
    }
    script = shutil.which("mlops", path=str(Path(sys.executable).parent))
    if script:  # what users type, for reference
        commands["mlops --help (console script)"] = [script, "--help"]
        commands["mlops config validate"] = [script, "config", "validate"]
    return commands


def _time(command: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=HERE.parent, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--output", choices=["table", "json"], default="table")
    args = parser.parse_args()

    commands = _commands()
    for command in commands.values():  # warm the file cache and .pyc files
        _time(command)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            samples[name].append(_time(command))

    medians = {name: statistics.median(times) * 1000 for name, times in samples.items()}
    ratio = medians["python -m mlops --help"] / medians["python -m hello-world --help"]
    if args.output == "json":
        print(json.dumps({"runs": args.runs, "median_ms": medians, "help_ratio": ratio}, indent=2))
        return
    print(f"median of {args.runs} runs each (python {sys.version.split()[0]})")
    for name, value in medians.items():
        print(f"  {name:<32} {value:8.1f} ms")
    print(f"  {'mlops / hello-world (--help)':<32} {ratio:8.2f}x   (goal: <= 1.30x)")


if __name__ == "__main__":
    main()
