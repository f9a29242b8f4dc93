"""Latency of a good request while 8 slow clients hold connections with unfinished bodies.

Usage: python bench/slow_clients.py [--runs 20] [--slow 8] [--project PATH] [--output json]

Builds a throwaway project (`mlops init`, `mlops run`) unless --project names a trained one,
deploys its champion with `mlops deploy --env local`, then measures the sample request's
latency (median of --runs) with no slow clients and with --slow clients that each send
headers promising a 100 kB body and then one byte, and stall. The same model is also served
by the bare server as Azure ML's image starts it (gunicorn sync workers, nothing in front),
side by side. A request that gets no answer within 10 s counts as a timeout.
Goal: the local endpoint answers every good request while the slow clients hold on.
"""

from __future__ import annotations

import argparse
import contextlib
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
import urllib.error
import urllib.request
from pathlib import Path

from _serving import BIN, free_port, mlops, wait

TIMEOUT = 10.0
BARE_SERVER = (
    "import sys; from azureml_inference_server_http import amlserver;"
    " amlserver.DEFAULT_HOST = '127.0.0.1'; amlserver.run()"
)


def _slow_clients(port: int, count: int) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        client.sendall(
            b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n{"
        )
        clients.append(client)
    time.sleep(0.5)  # let the server take them all up
    return clients


def _measure(url: str, body: bytes, runs: int) -> dict[str, float | int | None]:
    """Median latency over `runs` good requests; gives up after 3 timeouts in a row."""
    latencies, timeouts, failures = [], 0, 0
    for _ in range(runs):
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                response.read()
                failures += response.status != 200
            latencies.append((time.perf_counter() - started) * 1000)
        except TimeoutError:
            timeouts += 1
        except (OSError, urllib.error.HTTPError):
            failures += 1
        if timeouts >= 3 and not latencies:
            break
    return {
        "answered": len(latencies),
        "timeouts": timeouts,
        "failed": failures,
        "median_ms": round(statistics.median(latencies), 2) if latencies else None,
    }


def _scenario(url: str, port: int, body: bytes, runs: int, slow: int) -> dict[str, object]:
    _measure(url, body, 5)  # warm up
    quiet = _measure(url, body, runs)
    clients = _slow_clients(port, slow)
    try:
        busy = _measure(url, body, runs)
    finally:
        for client in clients:
            client.close()
    return {"no slow clients": quiet, f"{slow} slow clients": busy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--slow", type=int, default=8)
    parser.add_argument("--project", type=Path, help="a trained project (default: a new one)")
    parser.add_argument("--output", choices=["table", "json"], default="table")
    args = parser.parse_args()

    scratch = None if args.project else Path(tempfile.mkdtemp(prefix="mlops-slow-clients-"))
    root = args.project.resolve() if args.project else scratch / "demo"
    bare: subprocess.Popen | None = None
    results: dict[str, dict[str, object]] = {}
    try:
        if scratch is not None:
            mlops("init", str(root), cwd=scratch)
            mlops("run", cwd=root)
        endpoint = json.loads(mlops("deploy", "--env", "local", "-o", "json", cwd=root))
        body = (root / "src" / "diagnosis" / "sample_request.json").read_bytes()
        results["mlops deploy --env local"] = _scenario(
            endpoint["url"], endpoint["port"], body, args.runs, args.slow
        )

        model_dir = Path(endpoint["folder"]) / "azureml-models" / endpoint["model"]
        model_dir /= endpoint["version"]
        port = free_port()
        workers = os.environ.get("MLOPS_SERVER_WORKERS", str(os.cpu_count() or 1))
        command = [sys.executable, "-c", BARE_SERVER, "--entry_script"]
        command += [str(root / "src" / "diagnosis" / "score.py"), "--model_dir", str(model_dir)]
        command += ["--port", str(port), "--worker_count", workers]
        bare = subprocess.Popen(
            command,
            cwd=root / "src",
            env={
                **os.environ,
                "AML_APP_ROOT": str(root / "src"),
                "AZUREML_MODEL_DIR": str(model_dir),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait(f"http://127.0.0.1:{port}/")
        results[f"bare server, {workers} sync workers"] = _scenario(
            f"http://127.0.0.1:{port}/score", port, body, args.runs, args.slow
        )
    finally:
        if bare is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(bare.pid, signal.SIGTERM)
            bare.wait(timeout=30)
        subprocess.run(
            [str(BIN / "mlops"), "deploy", "--env", "local", "--stop"],
            cwd=root,
            capture_output=True,
            check=False,
        )
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    if args.output == "json":
        print(json.dumps({"runs": args.runs, "slow": args.slow, "results": results}, indent=2))
        return
    print(f"good requests: median of {args.runs}, loopback, timeout {TIMEOUT:g} s")
    print(f"  {'server':<34} {'scenario':<18} {'median ms':>10} {'answered':>9} {'timeouts':>9}")
    for server, scenarios in results.items():
        for scenario, r in scenarios.items():
            median = "-" if r["median_ms"] is None else f"{r['median_ms']:.2f}"
            print(
                f"  {server:<34} {scenario:<18} {median:>10} {r['answered']:>9} {r['timeouts']:>9}"
            )


if __name__ == "__main__":
    main()
