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

Python 3.8+ (a step's environment may pin an old one): no newer syntax outside annotations.

Exit codes: 0 done (failures within thresholds), 1 a threshold exceeded or init() failed,
2 bad arguments or input, 128+N stopped by signal N (workers are killed first).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

APPEND_FILE = "parallel_run_step.txt"
#: azure-ai-ml's Parallel docstring: 10 files for a file list, 1 MB for tabular data
DEFAULT_FILES = 10
DEFAULT_BYTES = 1024 * 1024
#: seconds a worker gets to run shutdown() and exit before it is killed
SHUTDOWN_GRACE = 10.0

log = logging.getLogger("parallel")


class InputError(Exception):
    """The input or the arguments cannot be used: exit 2, nothing ran."""


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


# --- input -----------------------------------------------------------------------------------


@dataclass
class Batch:
    """One mini-batch: absolute file paths, or a pandas DataFrame; `size` is its item count."""

    index: int
    items: Any
    size: int


def load_batches(path: str, mini_batch_size: int | None) -> tuple[str, list[Batch]]:
    """("files" | "tabular", mini-batches) for the input at `path`."""
    if not path:
        raise InputError("no input: input_data's input has no value")
    if not os.path.exists(path):
        raise InputError(f"the input {path!r} does not exist")
    path = os.path.abspath(path)
    if os.path.isfile(path):
        return "files", [Batch(0, [path], 1)]
    table = os.path.join(path, "MLTable")
    if os.path.isfile(table):
        spec = read_mltable(table)
        files = mltable_files(spec, path)
        delimited = _read_delimited(spec)
        if delimited is not None:
            return "tabular", tabular_batches(files, delimited, mini_batch_size or DEFAULT_BYTES)
    else:
        files = folder_files(path)
    size = mini_batch_size or DEFAULT_FILES
    return "files", [
        Batch(n, files[start : start + size], len(files[start : start + size]))
        for n, start in enumerate(range(0, len(files), size))
    ]


def folder_files(folder: str, exclude: str | None = None) -> list[str]:
    """Every file under `folder`, absolute, sorted by relative path (as bytes: any name)."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in names:
            full = os.path.join(root, name)
            if full != exclude and os.path.isfile(full):
                found.append(full)
    return sorted(found, key=lambda p: os.fsencode(os.path.relpath(p, folder)))


def mltable_files(spec: dict[str, Any], folder: str) -> list[str]:
    """The local files an MLTable's `paths:` name (file, folder, pattern), in order written."""
    paths = spec.get("paths")
    if not isinstance(paths, list) or not paths:
        raise InputError("the MLTable file has no `paths:` list")
    table = os.path.join(folder, "MLTable")
    files: list[str] = []
    for entry in paths:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise InputError(f"MLTable paths: expected `- file|folder|pattern: ...`, got {entry!r}")
        ((kind, value),) = entry.items()
        value = str(value)
        if "://" in value or value.startswith("azureml:"):
            raise InputError(f"MLTable paths: {value!r} is not local; the local run reads files")
        where = os.path.normpath(os.path.join(folder, value))
        if kind == "file":
            if not os.path.isfile(where):
                raise InputError(f"MLTable paths: the file {value!r} does not exist")
            files.append(where)
        elif kind == "folder":
            if not os.path.isdir(where):
                raise InputError(f"MLTable paths: the folder {value!r} does not exist")
            files += folder_files(where, exclude=table)
        elif kind == "pattern":
            matched = [p for p in glob.glob(where, recursive=True) if os.path.isfile(p)]
            files += sorted((p for p in matched if p != table), key=os.fsencode)
        else:
            raise InputError(f"MLTable paths: expected file, folder or pattern, got {kind!r}")
    return files


#: MLTable's encoding names (D:reference-yaml-mltable) as Python codecs
_ENCODINGS = {
    "utf8": "utf-8",
    "utf8bom": "utf-8-sig",
    "ascii": "ascii",
    "latin1": "latin-1",
    "iso88591": "iso-8859-1",
    "utf16": "utf-16",
    "utf32": "utf-32",
    "windows1252": "cp1252",
}
_HEADERS = ("all_files_same_headers", "all_files_different_headers", "from_first_file", "no_header")
#: read_delimited keys read here; others are refused rather than silently ignored
_DELIMITED_KEYS = {
    "delimiter",
    "encoding",
    "header",
    "empty_as_string",
    "include_path_column",
    "infer_column_types",
    "support_multi_line",
}


def _read_delimited(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The `read_delimited` options, or None: no transformation, the paths are a file list."""
    found = None
    for step in spec.get("transformations") or []:
        name = next(iter(step)) if isinstance(step, dict) and step else step
        if name == "read_delimited":
            found = step["read_delimited"] or {}
        else:
            raise InputError(
                f"MLTable transformation {name!r} is not run locally: read_delimited only"
            )
    if found is None:
        return None
    if not isinstance(found, dict):
        raise InputError("MLTable read_delimited: expected a mapping of options")
    unknown = sorted(set(found) - _DELIMITED_KEYS)
    if unknown:
        raise InputError(f"MLTable read_delimited: {', '.join(unknown)} not supported locally")
    if str(found.get("encoding", "utf8")) not in _ENCODINGS:
        raise InputError(f"MLTable read_delimited: unknown encoding {found.get('encoding')!r}")
    if str(found.get("header", "all_files_same_headers")) not in _HEADERS:
        raise InputError(f"MLTable read_delimited: unknown header {found.get('header')!r}")
    return found


def tabular_batches(files: list[str], options: dict[str, Any], size: int) -> list[Batch]:
    """DataFrames of about `size` bytes of rows: rows per batch = size / (file bytes / rows)."""
    try:
        import pandas as pd
    except ImportError:
        raise InputError(
            "tabular input (an MLTable with read_delimited) needs pandas in the step's"
            " environment: add pandas to its conda or pip dependencies"
        ) from None
    header = str(options.get("header", "all_files_same_headers"))
    as_string = _truthy(options.get("empty_as_string", False))
    read: dict[str, Any] = {
        "sep": str(options.get("delimiter", ",")),
        "encoding": _ENCODINGS[str(options.get("encoding", "utf8"))],
        "header": None if header == "no_header" else 0,
    }
    if as_string:
        read.update(keep_default_na=False, na_values=[])
    if not _truthy(options.get("infer_column_types", True)):
        read["dtype"] = str
    batches: list[Batch] = []
    names = None
    for number, file in enumerate(files):
        if header == "from_first_file" and number > 0:
            frame = pd.read_csv(file, **{**read, "header": None, "names": names})
        else:
            frame = pd.read_csv(file, **read)
            names = list(frame.columns)
        if _truthy(options.get("include_path_column", False)):
            frame["Path"] = file
        if frame.empty:
            continue
        per_row = max(1.0, os.path.getsize(file) / len(frame))
        rows = max(1, math.floor(size / per_row))
        for start in range(0, len(frame), rows):
            part = frame.iloc[start : start + rows].reset_index(drop=True)
            batches.append(Batch(len(batches), part, len(part)))
    return batches


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def read_mltable(path: str) -> dict[str, Any]:
    """An MLTable file: PyYAML when the environment has it, else `mini_yaml` (a subset)."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {path}: {error}") from None
    try:
        import yaml
    except ImportError:
        data = mini_yaml(text)
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InputError(f"the MLTable file is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise InputError("the MLTable file does not hold a mapping")
    return data


@dataclass
class _Line:
    indent: int
    text: str
    number: int


def mini_yaml(text: str) -> Any:
    """The YAML subset MLTable files use, for environments without PyYAML: block mappings,
    block sequences (`- key: value` items too), quoted and plain scalars, true/false/null,
    integers, comments. Anything else (flow `[...]`/`{...}`, `|`/`>` blocks, anchors) is an
    InputError that says to add pyyaml, never a silent misreading."""
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        body = raw.rstrip()
        stripped = body.lstrip(" ")
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        if "\t" in body[: len(body) - len(stripped)]:
            raise InputError(f"MLTable line {number}: tabs in indentation")
        lines.append(_Line(len(body) - len(stripped), stripped, number))
    if not lines:
        return None
    value, end = _block(lines, 0, lines[0].indent)
    if end != len(lines):
        raise InputError(f"MLTable line {lines[end].number}: unexpected indentation")
    return value


def _block(lines: list[_Line], i: int, indent: int) -> tuple[Any, int]:
    line = lines[i]
    if line.text == "-" or line.text.startswith("- "):
        return _sequence(lines, i, indent)
    if _key(line) is not None:
        return _mapping(lines, i, indent)
    return _scalar(line.text, line.number), i + 1


def _sequence(lines: list[_Line], i: int, indent: int) -> tuple[list[Any], int]:
    items = []
    while (
        i < len(lines)
        and lines[i].indent == indent
        and (lines[i].text == "-" or lines[i].text.startswith("- "))
    ):
        rest = lines[i].text[1:].lstrip(" ")
        if not rest:
            if i + 1 < len(lines) and lines[i + 1].indent > indent:
                value, i = _block(lines, i + 1, lines[i + 1].indent)
            else:
                value, i = None, i + 1
        else:  # "- key: value" opens a mapping whose keys sit where `key` starts
            inner = indent + len(lines[i].text) - len(rest)
            lines[i] = _Line(inner, rest, lines[i].number)
            value, i = _block(lines, i, inner)
        items.append(value)
    return items, i


def _mapping(lines: list[_Line], i: int, indent: int) -> tuple[dict[str, Any], int]:
    result: dict[str, Any] = {}
    while i < len(lines) and lines[i].indent == indent:
        parsed = _key(lines[i])
        if parsed is None:
            raise InputError(f"MLTable line {lines[i].number}: expected `key: value`")
        key, rest = parsed
        number = lines[i].number
        i += 1
        if rest:
            result[key] = _scalar(rest, number)
        elif i < len(lines) and (
            lines[i].indent > indent
            or (lines[i].indent == indent and lines[i].text.startswith("- "))
        ):
            result[key], i = _block(lines, i, lines[i].indent)
        else:
            result[key] = None
    return result, i


def _key(line: _Line) -> tuple[str, str] | None:
    """(key, rest) when the line is `key:` or `key: rest`; quoted keys too."""
    text = line.text
    if text[0] in "'\"":
        close = text.find(text[0], 1)
        if close < 0 or not text[close + 1 :].startswith(":"):
            return None
        key, after = text[1:close], text[close + 2 :]
    else:
        for at, char in enumerate(text):
            if char == ":" and (at + 1 == len(text) or text[at + 1] == " "):
                key, after = text[:at].rstrip(), text[at + 1 :]
                break
            if char == " " and text[at + 1 : at + 2] == "#":
                return None
        else:
            return None
    if after and not after.startswith(" "):
        return None
    rest = after.strip()
    return key, "" if rest.startswith("#") else rest


def _scalar(text: str, number: int) -> Any:
    if text[0] in "[{|>&*!":
        raise InputError(
            f"MLTable line {number}: {text[0]!r} needs a full YAML parser: add pyyaml to the"
            " step's environment"
        )
    if text[0] in "'\"":
        quote = text[0]
        out, at = [], 1
        while at < len(text):
            char = text[at]
            if quote == "'" and char == "'" and text[at + 1 : at + 2] == "'":
                out.append("'")
                at += 2
                continue
            if quote == '"' and char == "\\" and at + 1 < len(text):
                out.append({"n": "\n", "t": "\t"}.get(text[at + 1], text[at + 1]))
                at += 2
                continue
            if char == quote:
                tail = text[at + 1 :].strip()
                if tail and not tail.startswith("#"):
                    raise InputError(f"MLTable line {number}: text after a quoted value")
                return "".join(out)
            out.append(char)
            at += 1
        raise InputError(f"MLTable line {number}: unclosed quote")
    comment = text.find(" #")
    plain = (text[:comment] if comment >= 0 else text).strip()
    lowered = plain.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "~", ""):
        return None
    try:
        return int(plain)
    except ValueError:
        return plain


# --- workers ---------------------------------------------------------------------------------


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    ready: bool = False
    #: (mini-batch index, started, deadline) while run() works
    busy: tuple[int, float, float] | None = None


def _worker_command() -> list[str]:
    """How to start this module again: `-m` by its name, or its file when run as a file."""
    spec = globals().get("__spec__")
    if spec is not None and spec.name:
        return [sys.executable, "-m", spec.name]
    return [sys.executable, os.path.abspath(__file__)]


def start_worker(init: tuple[Any, ...]) -> Worker:
    """A worker process on one end of a socket pair; `init` is the first message it gets."""
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            [*_worker_command(), "--worker", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )
    finally:
        theirs.close()
    worker = Worker(process, Connection(ours.detach()))
    worker.conn.send(init)
    return worker


def stop_worker(worker: Worker, grace: float = 0.0) -> None:
    """Ask an idle worker to run shutdown() and exit (grace > 0), or kill it now (one still in
    init() or run(), or grace 0); always reap it."""
    idle = worker.ready and worker.busy is None
    if grace > 0 and idle and worker.process.poll() is None:
        try:
            worker.conn.send(("stop",))
            worker.process.wait(grace)
        except (OSError, subprocess.TimeoutExpired):
            pass
    if worker.process.poll() is None:
        worker.process.kill()
        worker.process.wait()
    worker.conn.close()


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


# --- the worker process ----------------------------------------------------------------------


def worker_main(fd: int) -> int:
    """One worker: init() once, run() per mini-batch message, shutdown() on `stop`."""
    # Ctrl-C reaches the whole process group: the driver stops the workers itself
    signal.signal(signal.SIGINT, lambda *_: None)
    parent = os.getppid()

    def orphaned() -> None:  # the driver was killed outright: do not outlive it
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    conn = Connection(fd)
    _, script, program, level, want_text = conn.recv()
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sys.argv = [script, *program]
    sys.path.insert(0, os.path.dirname(script))
    try:
        module = _import_script(script)
        for required in ("init", "run"):
            if not callable(getattr(module, required, None)):
                raise AttributeError(f"the entry script defines no {required}() function")
        module.init()
    except BaseException:
        conn.send(("init-failed", traceback.format_exc()))
        return 1
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return 0
        if message[0] == "stop":
            shutdown = getattr(module, "shutdown", None)
            if callable(shutdown):
                try:
                    shutdown()
                except Exception:
                    logging.getLogger("parallel").exception("shutdown() failed")
            return 0
        _, index, items = message
        try:
            result = module.run(items)
            returned, text = _measure(result, want_text)
        except (Exception, SystemExit) as error:
            summary = f"{type(error).__name__}: {error}".strip()
            conn.send(("failed", index, summary, traceback.format_exc()))
        else:
            conn.send(("done", index, returned, text))


def _import_script(script: str) -> Any:
    import importlib.util

    name = os.path.splitext(os.path.basename(script))[0]
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pickling and dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


def _measure(result: Any, want_text: bool) -> tuple[int, str | None]:
    """(items returned, their rows as text): D:how-to-use-parallel-job-in-pipeline says run()
    returns a DataFrame, a list or a tuple."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(result, pandas.DataFrame):
        text = result.to_csv(sep=" ", header=False, index=False) if want_text else None
        return len(result), text
    if isinstance(result, (list, tuple)):  # a tuple of types: Python 3.8 environments
        return len(result), "".join(f"{item}\n" for item in result) if want_text else None
    raise TypeError(f"run() returned {type(result).__name__}: expected a list, tuple or DataFrame")


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
