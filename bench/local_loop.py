"""The local loop's three waits, each beside its floor (the same work done by hand), in one run.

Usage: python bench/local_loop.py [--runs N] [--only warm|unchanged|cold ...] [--output json]

- one-step pipeline, warm: `mlops run --env-mode current --no-cache` of a pipeline whose one
  step is `python -c pass` (the store exists; the step really runs), against running
  `python -c pass` by hand; the same run reused (no --no-cache) is shown too.
- unchanged `mlops up` in the reference project (every step reused, the champion already
  served), against what it checks by hand: one POST of the sample request to the endpoint.
- cold `mlops up` in a fresh project from `mlops init` (no `.mlops/`; the step and serving
  environments already built, as after any first run on this machine), against the same
  work by hand: the four step commands in the environment mlops built, tracked in a fresh
  MLflow folder (`mlruns`), then the inference server started and asked once.

Samples are interleaved (mlops, then by hand) so machine noise hits both alike; medians of N
(default 5). Targets (issue 15): unchanged up <= 3 s, one-step warm <= 1.0 s, cold up <= 25 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ONE_STEP = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
experiment_name: bench
jobs:
  s0:
    type: command
    command: python -c pass
    environment: azureml:AzureML-sklearn-1.5@latest
    outputs:
      out:
        type: uri_folder
"""


def _mlops() -> list[str]:
    script = Path(sys.executable).parent / "mlops"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlops"]


def _time(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(url: str, deadline_s: float = 120) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(url)


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def _stop_endpoint(project: Path) -> None:
    subprocess.run(
        [*_mlops(), "deploy", "--env", "local", "--stop"], cwd=project, capture_output=True
    )


class ByHand:
    """The reference loop's commands as a data scientist would type them."""

    def __init__(self, template: Path) -> None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from mlops.config import load_config
        from mlops.services import deploy, run

        loaded = load_config(template / "mlops.yaml")
        plan = run.prepare(loaded, None, {}, run_id="bench")
        self.bins = run.build_environments(plan)  # built already: found in the cache
        self.commands = {step: planned.component for step, planned in plan.steps.items()}
        spec = deploy.serving_environment(loaded, None)
        self.server_bin = deploy.serving_bin(spec, lambda message: None)

    def cold(self, project: Path) -> float:
        """prep, train, evaluate, register, then the server up and answering one request."""
        work = Path(tempfile.mkdtemp(prefix="by-hand-"))
        src, out = project / "src", work / "out"
        bin_dir = self.bins["train"]
        env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            # the curated environment's MLflow has no SQL store: a folder, as by hand
            "MLFLOW_TRACKING_URI": (work / "mlruns").as_uri(),
            "MLFLOW_ALLOW_FILE_STORE": "true",
        }
        data = project / "data" / "breast_cancer.csv"
        steps = [
            f"python -m diagnosis.prep --data {data} --dataset-name breast-cancer"
            f" --out {out}/prepared",
            f"python -m diagnosis.train --prepared {out}/prepared --model-out {out}/model",
            f"python -m diagnosis.evaluate --prepared {out}/prepared --model {out}/model"
            " --model-name diagnosis --primary-metric roc_auc --direction maximize"
            " --threshold 0.95 --guardrails recall:min:0.95"
            f" --report-out {out}/report",
            f"python -m diagnosis.register --model {out}/model --report {out}/report"
            f" --prepared {out}/prepared --model-name diagnosis --out {out}/registration",
        ]
        start = time.perf_counter()
        for command in steps:
            subprocess.run(
                ["/bin/bash", "-c", command], cwd=src, env=env, check=True, capture_output=True
            )
        port = _free_port()
        server_env = {
            **os.environ,
            "PATH": f"{self.server_bin or Path(sys.executable).parent}{os.pathsep}"
            f"{os.environ['PATH']}",
            "AZUREML_MODEL_DIR": str(out),
            "AZUREML_ENTRY_SCRIPT": "diagnosis/score.py",
        }
        server = subprocess.Popen(
            ["azmlinfsrv", "--entry_script", "diagnosis/score.py", "--port", str(port)],
            cwd=src,
            env=server_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _wait_healthy(f"http://127.0.0.1:{port}/")
            sample = (src / "diagnosis" / "sample_request.json").read_bytes()
            _post(f"http://127.0.0.1:{port}/score", sample)
            return time.perf_counter() - start
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", choices=["table", "json"], default="table")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["warm", "unchanged", "cold"],
        default=["warm", "unchanged", "cold"],
        help="measure only these waits (the one-step pipeline is `warm`)",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    mlops = _mlops()
    root = Path(tempfile.mkdtemp(prefix="mlops-loop-"))
    samples: dict[str, list[float]] = {
        name: []
        for name in (
            "one-step warm: mlops run --no-cache",
            "one-step warm: by hand",
            "one-step warm: mlops run (reused)",
            "unchanged up: mlops up",
            "unchanged up: by hand (one request)",
            "cold up: mlops up (fresh project)",
            "cold up: by hand",
        )
    }
    projects: list[Path] = []
    try:
        one = root / "one"
        one.mkdir()
        (one / "mlops.yaml").write_text("project: {name: bench}\n")
        (one / "single.yml").write_text(ONE_STEP)
        run = [*mlops, "run", "--env-mode", "current", "single.yml"]
        if "warm" in args.only:
            _time([*run, "--no-cache"], one)  # the store and the validation cache, untimed
        python = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        for _ in range(args.runs if "warm" in args.only else 0):
            samples["one-step warm: mlops run --no-cache"].append(_time([*run, "--no-cache"], one))
            samples["one-step warm: by hand"].append(
                _time(["/bin/bash", "-c", "python -c pass"], one, python)
            )
            samples["one-step warm: mlops run (reused)"].append(_time(run, one))

        def fresh(index: int) -> Path:
            project = root / f"project{index}"
            subprocess.run([*mlops, "init", str(project)], check=True, capture_output=True)
            projects.append(project)
            return project

        warm = fresh(0)
        _time([*mlops, "up"], warm)  # builds the environments on a new machine, untimed
        hand = ByHand(warm)
        _time([*mlops, "up"], warm)  # the champion moved: the gate decides once more
        endpoint = json.loads(
            subprocess.run(
                [*mlops, "endpoints", "list", "-o", "json"],
                cwd=warm,
                check=True,
                capture_output=True,
            ).stdout
        )[0]["url"]
        sample = (warm / "src" / "diagnosis" / "sample_request.json").read_bytes()
        for _ in range(args.runs if "unchanged" in args.only else 0):
            samples["unchanged up: mlops up"].append(_time([*mlops, "up"], warm))
            start = time.perf_counter()
            _post(endpoint, sample)
            samples["unchanged up: by hand (one request)"].append(time.perf_counter() - start)
        _stop_endpoint(warm)
        for index in range(1, args.runs + 1 if "cold" in args.only else 1):
            project = fresh(index)
            samples["cold up: mlops up (fresh project)"].append(_time([*mlops, "up"], project))
            _stop_endpoint(project)
            samples["cold up: by hand"].append(hand.cold(project))
    finally:
        for project in projects:
            _stop_endpoint(project)
        shutil.rmtree(root, ignore_errors=True)

    medians = {name: statistics.median(values) for name, values in samples.items() if values}
    load = os.getloadavg()
    if args.output == "json":
        print(
            json.dumps(
                {
                    "runs": args.runs,
                    "load_average_before": load_before,
                    "load_average": load,
                    "median_s": medians,
                    "samples_s": samples,
                },
                indent=2,
            )
        )
        return
    print(
        f"median of {args.runs} runs each; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        f" (before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f})"
    )
    for name, value in medians.items():
        print(f"  {name:<40} {value:7.2f} s   ({', '.join(f'{v:.2f}' for v in samples[name])})")


if __name__ == "__main__":
    main()
