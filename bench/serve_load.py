"""Load on loopback: the local endpoint (azureml-inference-server-http) against
`mlflow models serve --env-manager local` of the same model, in the same run.

Usage: python bench/serve_load.py [--requests 2000] [--concurrency 8] [--output json]

Builds a throwaway project (`mlops init`, `mlops run`), deploys its champion with
`mlops deploy --env local`, starts `mlflow models serve` on the same model files, and sends
the project's sample request to each, one server after the other. Prints p50 and p99
latency, throughput and failed requests. Goal: at least twice MLflow's throughput, with a
lower p99, and zero failures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from _serving import BIN, free_port, mlops, wait


def _load(url: str, body: bytes, requests: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    remaining = iter(range(requests))

    def worker() -> None:
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}
            )
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
                    ok = response.status == 200
            except (OSError, urllib.error.HTTPError):
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                failures[0] += not ok

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "failed": failures[0],
        "throughput_rps": len(latencies) / wall,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--output", choices=["table", "json"], default="table")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="mlops-serve-load-")) / "demo"
    servers: list[subprocess.Popen] = []
    results: dict[str, dict[str, float]] = {}
    try:
        mlops("init", str(root), cwd=root.parent)
        mlops("run", cwd=root)
        endpoint = json.loads(mlops("deploy", "--env", "local", "-o", "json", cwd=root))
        sample = json.loads((root / "src" / "diagnosis" / "sample_request.json").read_text())
        model_dir = next((Path(endpoint["folder"]) / "azureml-models").rglob("MLmodel")).parent

        targets = {"mlops deploy --env local": (endpoint["url"], {"data": sample["data"]})}
        for workers in (None, str(os.cpu_count() or 1)):
            port = free_port()
            command = [str(BIN / "mlflow"), "models", "serve", "-m", str(model_dir)]
            command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
            name = "mlflow models serve"
            if workers:
                command += ["--workers", workers]
                name += f" --workers {workers}"
            servers.append(
                subprocess.Popen(
                    command,
                    env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            wait(f"http://127.0.0.1:{port}/ping")
            url = f"http://127.0.0.1:{port}/invocations"
            targets[name] = (url, {"dataframe_records": sample["data"]})

        for name, (url, payload) in targets.items():
            body = json.dumps(payload).encode()
            _load(url, body, 50, args.concurrency)  # warm up
            results[name] = _load(url, body, args.requests, args.concurrency)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        if root.exists():
            subprocess.run([str(BIN / "mlops"), "deploy", "--env", "local", "--stop"], cwd=root)
        shutil.rmtree(root.parent, ignore_errors=True)

    if args.output == "json":
        print(
            json.dumps(
                {"requests": args.requests, "concurrency": args.concurrency, "results": results},
                indent=2,
            )
        )
        return
    print(
        f"{args.requests} requests, concurrency {args.concurrency}, loopback, one server at a time"
    )
    print(f"  {'server':<32} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}")
    for name, r in results.items():
        print(
            f"  {name:<32} {r['throughput_rps']:8.1f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f}"
            f" {r['failed']:7d}"
        )
    ours = results["mlops deploy --env local"]["throughput_rps"]
    theirs = results["mlflow models serve"]["throughput_rps"]
    print(
        f"  throughput ratio vs mlflow models serve (defaults): {ours / theirs:.2f}x (goal >= 2x)"
    )


if __name__ == "__main__":
    main()
