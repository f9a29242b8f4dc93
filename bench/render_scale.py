"""Render and plan offline at platform scale: 3 environments, 20 model projects.

Usage: python bench/render_scale.py [--runs N] [--output json]

Each model project renders its own stacks (shared + one per environment) from its own
mlops.yaml, so 20 models means 20 configs. Printed side by side, medians of N runs:
- in-process: load + validate 20 configs, render every file, build the offline plan;
- the same through the CLI as users run it (`mlops render` then `mlops plan --offline`),
  for one project, fresh interpreters: what a pipeline step pays.
Goal: the 20-project in-process figure under 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = """\
project: {{name: model{i:02d}}}
azure: {{location: westeurope, name_prefix: bench}}
environments:
  dev: {{}}
  test: {{approval: {{approvers: [platform_engineers]}}}}
  prod: {{approval: {{approvers: [platform_engineers]}}}}
network: {{mode: {mode}}}
compute:
  clusters:
    cpu-cluster: {{max_nodes: 4}}
    gpu-cluster: {{size: Standard_NC6s_v3, max_nodes: 2}}
"""


def _write_projects(root: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        folder = root / f"model{i:02d}"
        folder.mkdir()
        mode = "vnet" if i % 2 else "managed"
        (folder / "mlops.yaml").write_text(CONFIG.format(i=i, mode=mode))
        paths.append(folder / "mlops.yaml")
    return paths


def _in_process(paths: list[Path]) -> tuple[float, int, int]:
    from mlops.config.loader import load_config
    from mlops.render.files import render
    from mlops.services import infra

    start = time.perf_counter()
    files = resources = 0
    for path in paths:
        loaded = load_config(path)
        files += len(render(loaded.config))
        plan = infra.offline_plan(loaded, None, "bench")
        resources += sum(len(s.changes) for s in plan.stacks)
    return time.perf_counter() - start, files, resources


def _cli(path: Path) -> float:
    start = time.perf_counter()
    for args in (["render"], ["plan", "--offline", "--output", "json"]):
        subprocess.run(
            [sys.executable, "-m", "mlops", "-c", str(path), *args],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--output", choices=["table", "json"], default="table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = _write_projects(Path(tmp), args.models)
        _in_process(paths[:1])  # warm imports: measure rendering, not the first import
        inner, cli = [], []
        files = resources = 0
        for _ in range(args.runs):
            seconds, files, resources = _in_process(paths)
            inner.append(seconds)
            cli.append(_cli(paths[0]))
    result = {
        "models": args.models,
        "environments": 3,
        "files_rendered": files,
        "resources_planned": resources,
        "in_process_all_models_s": round(statistics.median(inner), 3),
        "per_model_ms": round(statistics.median(inner) / args.models * 1000, 1),
        "cli_render_plus_plan_one_model_s": round(statistics.median(cli), 3),
        "runs": args.runs,
        "goal_s": 1.0,
    }
    if args.output == "json":
        print(json.dumps(result, indent=2))
        return
    print(f"{args.models} model projects x 3 environments (+ shared stack), median of {args.runs}")
    print(f"  rendered files / planned resources  {files} / {resources}")
    print(
        f"  in-process, all models              {result['in_process_all_models_s']:.3f} s"
        f"   ({result['per_model_ms']} ms per model; goal < 1 s)"
    )
    print(
        f"  CLI render + plan --offline, 1 model {result['cli_render_plus_plan_one_model_s']:.3f} s"
        "   (fresh interpreters, as a pipeline step runs them)"
    )


if __name__ == "__main__":
    main()
