"""Run an Azure ML parallel step here: an entry script's `init()` once per worker process, then
`run(mini_batch)` per mini-batch of the input, with retries, timeouts and error thresholds.

    python -m mlops_local_drivers.parallel --entry-script S --input P [options] -- [args]

Standard library only (pandas is imported for tabular input, inside a function): it runs in
the step's own environment, which need not hold mlops. What it does, after Microsoft's pages
(D:x = https://learn.microsoft.com/azure/machine-learning/x):

- Input (D:how-to-use-parallel-job-in-pipeline): a folder is a file list, cut into mini-batches
  of `--mini-batch-size` files, sorted by relative path, recursively; a single file is one
  mini-batch; a folder holding an `MLTable` file with a `read_delimited` transformation is
  tabular: its rows as pandas DataFrames of about `--mini-batch-size` bytes each (the file's
  size / its rows, per row). An `MLTable` without `read_delimited` is a file list of its paths.
  Without a size: 10 files or 1 MB (azure-ai-ml's Parallel docstring).
- Workers (D:reference-yaml-job-parallel): instance_count x max_concurrency_per_instance
  processes, started as `python -m <this module> --worker`. Each imports the entry script (its
  folder first on sys.path; sys.argv = [script, *program arguments]), calls `init()`, then
  `run()` per mini-batch it is given, then `shutdown()` if defined.
- Failures (D:how-to-use-parallel-job-in-pipeline): a mini-batch fails when run() raises,
  exceeds `--timeout` seconds (its worker is killed and replaced), or returns fewer items than
  it got. It is tried again up to `--max-retries` times; then its missing items count against
  `--error-threshold` and the mini-batch against `--mini-batch-error-threshold` (-1: ignore).
  Going over either stops the job: exit 1.
- `--append-row-to` (D:how-to-batch-scoring-script: rows appended without column names): every
  run() result is written to `<folder>/parallel_run_step.txt` (the v1 file name; a path that is
  not a folder is the file), in mini-batch order. Microsoft does not specify the format: here a
  list or tuple item is `str(item)` on its own line, a DataFrame row its values separated by
  spaces (pandas `to_csv(sep=" ", header=False, index=False)`: a value holding a space is
  quoted). Text is UTF-8; bytes that are not (file names) are written back as they were.

This module parses the arguments, schedules the mini-batches over the workers, counts failures
against the thresholds and writes the rows; `_parallel_input` cuts the input into mini-batches
(`_mini_yaml` reads MLTable files without PyYAML), `_parallel_worker` starts, stops and is the
worker processes.

Python 3.8+ (a step's environment may pin an old one): no newer syntax outside annotations.

Exit codes: 0 done (failures within thresholds), 1 a threshold exceeded or init() failed,
2 bad arguments or input, 128+N stopped by signal N (workers are killed first).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from ._parallel_input import Batch, InputError, load_batches
from ._parallel_worker import Worker, start_worker, stop_worker, worker_main

APPEND_FILE = "parallel_run_step.txt"
#: seconds a worker gets to run shutdown() and exit before it is killed
SHUTDOWN_GRACE = 10.0

log = logging.getLogger("parallel")


class Stopped(Exception):
    """SIGINT or SIGTERM arrived: stop the workers and exit 128+signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# --- arguments -------------------------------------------------------------------------------


def parse_arguments(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The driver's own options, and the program arguments after `--` (the entry script's)."""
    own, program = argv, []
    if "--" in argv:
        split = argv.index("--")
        own, program = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(prog="parallel", description=__doc__.split("\n")[0])
    parser.add_argument("--entry-script", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--mini-batch-size", type=int)
    parser.add_argument("--error-threshold", type=int, default=-1)
    parser.add_argument("--mini-batch-error-threshold", type=int, default=-1)
    parser.add_argument("--max-concurrency-per-instance", type=int)
    parser.add_argument("--instance-count", type=int, default=1)
    parser.add_argument("--max-retries", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--logging-level", default="INFO", choices=("INFO", "WARNING", "DEBUG"))
    parser.add_argument("--append-row-to")
    return parser.parse_args(own), program


# --- the job ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """The final result of one mini-batch, after its retries."""

    returned: int = 0
    text: str | None = None
    failed: bool = False


@dataclass
class Job:
    """The scheduler: hands mini-batches to idle workers, retries, counts, writes rows."""

    args: argparse.Namespace
    program: list[str]
    batches: list[Batch]
    sink: Any = None
    workers: list[Worker] = field(default_factory=list)
    pending: deque[int] = field(default_factory=deque)
    attempts: dict[int, int] = field(default_factory=dict)
    first_started: dict[int, float] = field(default_factory=dict)
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    written: int = 0
    failed_items: int = 0
    failed_batches: int = 0
    stop_reason: str | None = None

    def run(self) -> int:
        total = len(self.batches)
        self.pending.extend(range(total))
        wanted = min(total, self._worker_count())
        init = (
            "init",
            os.path.abspath(self.args.entry_script),
            self.program,
            self.args.logging_level,
            self.sink is not None,
        )
        log.info("%d mini-batches, %d worker processes", total, wanted)
        while len(self.outcomes) < total and self.stop_reason is None:
            while len(self.workers) < min(wanted, total - len(self.outcomes)):
                self.workers.append(start_worker(init))
            for worker in self.workers:
                if worker.ready and worker.busy is None and self.pending:
                    self._dispatch(worker, self.pending.popleft())
            now = time.monotonic()
            deadlines = [w.busy[2] for w in self.workers if w.busy is not None]
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            for conn in wait([w.conn for w in self.workers], timeout):
                worker = next(w for w in self.workers if w.conn is conn)
                self._receive(worker)
            self._expire(time.monotonic())
        for worker in self.workers:
            stop_worker(worker, SHUTDOWN_GRACE)
        self.workers.clear()
        return 1 if self.stop_reason else 0

    def kill_all(self) -> None:
        for worker in self.workers:
            stop_worker(worker)
        self.workers.clear()

    def _worker_count(self) -> int:
        concurrency = self.args.max_concurrency_per_instance
        if concurrency is None:  # D:reference-yaml-job-parallel: CPU default = #cores
            affinity = getattr(os, "sched_getaffinity", None)
            concurrency = len(affinity(0)) if affinity else (os.cpu_count() or 1)
        return max(1, concurrency * self.args.instance_count)

    def _dispatch(self, worker: Worker, index: int) -> None:
        now = time.monotonic()
        self.first_started.setdefault(index, now)
        worker.busy = (index, now, now + self.args.timeout)
        log.debug("mini-batch %d: attempt %d", index + 1, self.attempts.get(index, 0) + 1)
        # when it died between two messages, its EOF is read next
        with contextlib.suppress(OSError):
            worker.conn.send(("run", index, self.batches[index].items))

    def _receive(self, worker: Worker) -> None:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            self._lost(worker)
            return
        kind = message[0]
        if kind == "ready":
            worker.ready = True
        elif kind == "init-failed":
            self.stop_reason = f"init() of {self.args.entry_script} failed:\n{message[1]}"
        elif kind in ("done", "failed") and worker.busy is not None:
            index = worker.busy[0]
            worker.busy = None
            if kind == "failed":
                self._attempt_failed(index, message[2], detail=message[3])
                return
            _, _, returned, text = message
            expected = self.batches[index].size
            if returned >= expected:
                self._finish(index, Outcome(returned, text))
            else:
                self._attempt_failed(
                    index, f"run() returned {returned} of {expected} items", returned, text
                )

    def _lost(self, worker: Worker) -> None:
        """A worker exited on its own: its mini-batch failed; init() died if it was not ready."""
        code = worker.process.wait()
        self.workers.remove(worker)
        worker.conn.close()
        if not worker.ready:
            self.stop_reason = f"a worker exited (code {code}) during init() of the entry script"
        elif worker.busy is not None:
            self._attempt_failed(worker.busy[0], f"the worker process exited (code {code})")

    def _expire(self, now: float) -> None:
        for worker in [w for w in self.workers if w.busy is not None and w.busy[2] <= now]:
            assert worker.busy is not None
            index = worker.busy[0]
            stop_worker(worker)  # killed: run() may never return; a new worker replaces it
            self.workers.remove(worker)
            self._attempt_failed(index, f"run() timed out after {self.args.timeout:g}s")

    def _attempt_failed(
        self, index: int, reason: str, returned: int = 0, text: str | None = None, detail: str = ""
    ) -> None:
        self.attempts[index] = self.attempts.get(index, 0) + 1
        label = f"mini-batch {index + 1}/{len(self.batches)}"
        if self.attempts[index] <= self.args.max_retries:
            if detail:
                log.debug("%s:\n%s", label, detail.rstrip())
            log.warning("%s attempt %d failed: %s; retrying", label, self.attempts[index], reason)
            self.pending.appendleft(index)
            return
        log.warning("%s failed after %d attempts: %s", label, self.attempts[index], reason)
        if detail:
            log.warning("%s: the last attempt's error:\n%s", label, detail.rstrip())
        self._finish(index, Outcome(returned, text, failed=True))

    def _finish(self, index: int, outcome: Outcome) -> None:
        batch = self.batches[index]
        missing = max(0, batch.size - outcome.returned) if outcome.failed else 0
        self.outcomes[index] = outcome
        self.failed_items += missing
        self.failed_batches += 1 if outcome.failed else 0
        took = time.monotonic() - self.first_started.get(index, time.monotonic())
        state = "failed" if outcome.failed else "done"
        print(
            f"mini-batch {index + 1}/{len(self.batches)} {state}"
            f" ({batch.size} items, {missing} failed) in {took:.1f}s",
            flush=True,
        )
        self._write_rows()
        limit, count = self.args.error_threshold, self.failed_items
        if limit != -1 and count > limit:
            self.stop_reason = f"error_threshold {limit} exceeded: {count} items failed"
        limit, count = self.args.mini_batch_error_threshold, self.failed_batches
        if limit != -1 and count > limit:
            self.stop_reason = (
                f"mini_batch_error_threshold {limit} exceeded: {count} mini-batches failed"
            )

    def _write_rows(self) -> None:
        """Rows of every finished mini-batch not yet written, stopping at the first gap."""
        while self.written in self.outcomes:
            text = self.outcomes[self.written].text
            if self.sink is not None and text:
                self.sink.write(text.encode("utf-8", "surrogateescape"))
                self.sink.flush()
            self.outcomes[self.written].text = None  # written: free it
            self.written += 1


# --- main ------------------------------------------------------------------------------------


def _raise_stopped(signum: int, _frame: Any) -> None:
    raise Stopped(signum)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        return worker_main(int(argv[1]))
    args, program = parse_arguments(argv)
    logging.basicConfig(
        level=args.logging_level, stream=sys.stderr, format="%(levelname)s parallel: %(message)s"
    )
    for name, value in (
        ("--mini-batch-size", args.mini_batch_size),
        ("--max-concurrency-per-instance", args.max_concurrency_per_instance),
        ("--instance-count", args.instance_count),
    ):
        if value is not None and value < 1:
            print(f"parallel: {name} must be at least 1", file=sys.stderr)
            return 2
    if not os.path.isfile(args.entry_script):
        print(f"parallel: the entry script {args.entry_script!r} does not exist", file=sys.stderr)
        return 2
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _raise_stopped)
    signal.signal(signal.SIGINT, _raise_stopped)
    job: Job | None = None
    try:
        try:
            kind, batches = load_batches(args.input, args.mini_batch_size)
            sink = _open_sink(args.append_row_to) if args.append_row_to else None
        except InputError as error:
            print(f"parallel: {error}", file=sys.stderr)
            return 2
        job = Job(args, program, batches, sink)
        items = sum(batch.size for batch in batches)
        log.info("%s input %s: %d items", kind, args.input, items)
        try:
            code = job.run()
        finally:
            if sink is not None:
                sink.close()
    except Stopped as stop:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not cut cleanup
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if job is not None:
            job.kill_all()
        print(f"parallel: stopped by signal {stop.signum}; workers stopped", file=sys.stderr)
        return 128 + stop.signum
    finally:
        if job is not None:
            job.kill_all()
    finished = len(job.outcomes)
    summary = (
        f"parallel: {finished}/{len(batches)} mini-batches finished, {items} items,"
        f" {job.failed_items} failed items, {job.failed_batches} failed mini-batches"
        f" in {time.monotonic() - started:.1f}s"
    )
    if job.stop_reason:
        print(f"{summary}; stopped: {job.stop_reason.splitlines()[0]}", flush=True)
        print(f"parallel: {job.stop_reason}", file=sys.stderr)
        return code
    print(summary, flush=True)
    return 0


def _open_sink(target: str) -> Any:
    """`parallel_run_step.txt` in the output folder, or the file named; created empty."""
    path = os.path.join(target, APPEND_FILE) if os.path.isdir(target) else target
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return open(path, "wb")  # closed by main() after the job
    except OSError as error:
        raise InputError(f"cannot write the append_row_to file {path!r}: {error}") from None


if __name__ == "__main__":
    sys.exit(main())
