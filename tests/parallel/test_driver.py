"""The parallel driver, run as a step runs it: the command `driver_command` writes, rendered by
`expressions.render` as the executor does, run by bash with the drivers package copied as
`mlops_local_drivers` (as in a step's own environment) and this venv's python first on PATH."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.backends.local.drivers import parallel as driver
from mlops.backends.local.drivers._mini_yaml import mini_yaml
from mlops.backends.local.drivers._parallel_input import InputError
from mlops.pipeline.expressions import render
from mlops.pipeline.model import Where
from mlops.pipeline.parallel import driver_command, parse_parallel

FIXTURES = Path(__file__).parent / "fixtures"
DRIVERS = Path(driver.__file__).parent
HOSTILE = 'it\'s a "dir" $(touch PWNED) `touch PWNED` ü'
#: a file name that is not UTF-8, with quotes and $() as well
ODD = os.fsdecode(b"f05 'q' $(touch PWNED) caf\xe9.txt")


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The drivers package under the name a step's environment imports it by."""
    root = tmp_path_factory.mktemp("shim")
    shutil.copytree(DRIVERS, root / "mlops_local_drivers", ignore=shutil.ignore_patterns("*.pyc"))
    return root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project in a hostile folder: its code folder and a folder of ten files, one odd."""
    project = tmp_path / HOSTILE
    shutil.copytree(FIXTURES / "code", project / "code")
    data = project / "data"
    data.mkdir()
    for n in range(10):
        (data / (ODD if n == 5 else f"f{n:02d}.txt")).write_text(f"{n}\n")
    (project / "out").mkdir()
    return project


def names(root: Path) -> list[str]:
    return sorted((p.name for p in (root / "data").iterdir()), key=os.fsencode)


def command(root: Path, arguments: str = "", **settings: Any) -> str:
    """The rendered command of a parallel step over `data/` appending to `out/`."""
    data: dict[str, Any] = {
        "inputs": {"data": {"type": "uri_folder"}, "model": "x"},
        "outputs": {"out": {"type": "uri_folder"}},
        "input_data": "${{inputs.data}}",
        "mini_batch_size": "3",
        "max_concurrency_per_instance": 2,
        "task": {
            "type": "run_function",
            "code": "./code",
            "entry_script": settings.pop("entry_script", "score.py"),
            "environment": {"image": "python:3.11"},
            "program_arguments": arguments,
            "append_row_to": "${{outputs.out}}",
        },
    }
    data |= settings
    file = root / "pipeline.yml"
    spec = parse_parallel(data, file, Where(file), "jobs.score")
    values = {
        ("inputs", "data"): str(root / "data"),
        ("inputs", "model"): "m$(touch PWNED) 'q'",
        ("outputs", "out"): str(root / "out"),
    }
    return render(driver_command(spec), values.get)


def environment(shim: Path, python_dir: Path | None = None) -> dict[str, str]:
    bin_dir = python_dir or Path(sys.executable).parent
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(shim),
        "PYTHONUNBUFFERED": "1",
    }


def run(shim: Path, root: Path, line: str, python_dir: Path | None = None) -> Any:
    result = subprocess.run(
        ["/bin/bash", "-c", line],
        cwd=root / "code",
        env=environment(shim, python_dir),
        capture_output=True,
        timeout=60,
    )
    result.out = result.stdout.decode(errors="replace")
    result.err = result.stderr.decode(errors="replace")
    return result


def rows(root: Path) -> list[str]:
    text = (root / "out" / driver.APPEND_FILE).read_bytes()
    return [os.fsdecode(line) for line in text.splitlines()]


def no_payload_ran(root: Path) -> bool:
    return not any(root.parent.rglob("PWNED"))


def test_ten_files_make_four_mini_batches_appended_in_order(shim: Path, root: Path) -> None:
    result = run(shim, root, command(root))
    assert result.returncode == 0, result.err
    progress = [line for line in result.out.splitlines() if line.startswith("mini-batch")]
    assert sorted(progress) == [
        f"mini-batch {n}/4 done ({size} items, 0 failed) in {line.split(' in ')[1]}"
        for n, size, line in zip(range(1, 5), (3, 3, 3, 1), sorted(progress), strict=True)
    ]
    assert "4/4 mini-batches finished, 10 items, 0 failed items" in result.out
    assert rows(root) == names(root)  # mini-batch order, the odd name's bytes as they were
    assert no_payload_ran(root)


@pytest.mark.parametrize(("threshold", "code"), [(1, 0), (0, 1)])
def test_error_threshold_counts_items_run_did_not_return(
    shim: Path, root: Path, threshold: int, code: int
) -> None:
    (root / "data" / "f03.txt").rename(root / "data" / "f03-bad.txt")
    line = command(root, "--drop bad", error_threshold=threshold)
    result = run(shim, root, line)
    assert result.returncode == code, result.err
    assert "run() returned 2 of 3 items" in result.err  # tried again, then counted
    if code == 0:
        assert "1 failed items" in result.out
        assert rows(root) == [n for n in names(root) if "bad" not in n]
    else:
        assert "error_threshold 0 exceeded: 1 items failed" in result.err


@pytest.mark.parametrize(("threshold", "code"), [(2, 0), (1, 1)])
def test_mini_batch_error_threshold_counts_failed_mini_batches(
    shim: Path, root: Path, threshold: int, code: int
) -> None:
    for old, new in (("f00.txt", "f00-bad.txt"), ("f07.txt", "f07-bad.txt")):
        (root / "data" / old).rename(root / "data" / new)
    line = command(
        root,
        "--raise-on bad",
        mini_batch_error_threshold=threshold,
        retry_settings={"max_retries": 0},
        max_concurrency_per_instance=1,
    )
    result = run(shim, root, line)
    assert result.returncode == code, result.err
    assert "ValueError: cannot score" in result.err
    if code == 0:
        assert "2 failed mini-batches" in result.out
        assert rows(root) == names(root)[3:6] + names(root)[9:]
    else:
        assert "mini_batch_error_threshold 1 exceeded: 2 mini-batches failed" in result.err


def test_a_failed_attempt_is_retried_with_a_fresh_call(shim: Path, root: Path) -> None:
    markers = root / "markers"
    markers.mkdir()
    result = run(shim, root, command(root, f"--fail-once {shlex.quote(str(markers))}"))
    assert result.returncode == 0, result.err
    assert result.err.count("attempt 1 failed: RuntimeError: first attempt fails; retrying") == 4
    assert len(list(markers.iterdir())) == 4
    assert rows(root) == names(root)


def test_tabular_mltable_input_gives_dataframes_of_about_the_size(shim: Path, root: Path) -> None:
    shutil.rmtree(root / "data")
    shutil.copytree(FIXTURES / "table", root / "data")
    # 290 bytes for 20 rows: 64 bytes are 4 rows
    result = run(shim, root, command(root, mini_batch_size="64", entry_script="score_table.py"))
    assert result.returncode == 0, result.err
    assert "5/5 mini-batches finished, 20 items" in result.out
    assert rows(root) == [f"{n} {n * 20}" for n in range(20)]  # no header, space-separated


def test_program_arguments_reach_the_scripts_argparse(shim: Path, root: Path) -> None:
    record = root / "argv.json"
    arguments = "--model ${{inputs.model}} --allowed_failed_percent 30 --record "
    result = run(shim, root, command(root, arguments + shlex.quote(str(record))))
    assert result.returncode == 0, result.err
    recorded = yaml.safe_load(record.read_text(encoding="utf-8"))
    assert recorded["model"] == "m$(touch PWNED) 'q'"
    assert recorded["argv"][2:] == ["--allowed_failed_percent", "30", "--record", str(record)]
    assert no_payload_ran(root)


def test_a_hanging_run_is_killed_after_the_timeout_and_its_worker_replaced(
    shim: Path, root: Path
) -> None:
    pids = root / "pids"
    pids.mkdir()
    line = command(
        root,
        f"--hang-on f00 --pids {shlex.quote(str(pids))}",
        retry_settings={"max_retries": 1, "timeout": 1},
        max_concurrency_per_instance=1,
    )
    started = time.monotonic()
    result = run(shim, root, line)
    assert result.returncode == 0, result.err  # thresholds -1: the failure is ignored
    assert time.monotonic() - started < 15
    assert result.err.count("run() timed out after 1s") == 2
    assert "mini-batch 1/4 failed (3 items, 3 failed)" in result.out
    assert rows(root) == names(root)[3:]
    # one worker per attempt that hung, then the one that ran the rest; none left behind
    assert len(list(pids.iterdir())) == 3
    assert not any(alive(int(p.name)) for p in pids.iterdir())


def test_a_worker_that_dies_fails_its_attempt_only(shim: Path, root: Path) -> None:
    line = command(root, "--exit-on f04", retry_settings={"max_retries": 0})
    result = run(shim, root, line)
    assert result.returncode == 0, result.err
    assert "the worker process exited (code 3)" in result.err
    assert rows(root) == names(root)[:3] + names(root)[6:]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_workers_and_the_driver(shim: Path, root: Path, signum: int) -> None:
    pids = root / "pids"
    pids.mkdir()
    words = shlex.split(command(root, f"--hang-on f --pids {shlex.quote(str(pids))}"))
    process = subprocess.Popen(
        [sys.executable, *words[1:]],
        cwd=root / "code",
        env=environment(shim),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # both in run()
    process.send_signal(signum)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 128 + signum, err
    assert b"workers stopped" in err
    assert not any(alive(int(p.name)) for p in pids.iterdir())


def test_workers_do_not_outlive_a_killed_driver(shim: Path, root: Path) -> None:
    pids = root / "pids"
    pids.mkdir()
    words = shlex.split(command(root, f"--hang-on f --pids {shlex.quote(str(pids))}"))
    process = subprocess.Popen(
        [sys.executable, *words[1:]], cwd=root / "code", env=environment(shim)
    )
    deadline = time.monotonic() + 20
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()  # SIGKILL: no cleanup in the driver; the workers notice on their own
    process.wait()
    deadline = time.monotonic() + 5
    while any(alive(int(p.name)) for p in pids.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(int(p.name)) for p in pids.iterdir())


def test_a_failing_init_fails_the_job(shim: Path, root: Path) -> None:
    result = run(shim, root, command(root, "--fail-init"))
    assert result.returncode == 1
    assert "init() of" in result.err
    assert "RuntimeError: init refused" in result.err


def test_tabular_input_without_pandas_says_so(shim: Path, root: Path, tmp_path: Path) -> None:
    """`python -S`: no site-packages, so neither pandas nor PyYAML (the MLTable file is read by
    the driver's own YAML subset) - as in an environment that lacks them."""
    shutil.rmtree(root / "data")
    shutil.copytree(FIXTURES / "table", root / "data")
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "python").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -S "$@"\n')
    (bare / "python").chmod(0o755)
    result = run(shim, root, command(root, entry_script="score_table.py"), python_dir=bare)
    assert result.returncode == 2
    assert "needs pandas in the step's environment" in result.err


def test_a_missing_input_is_a_usage_error(shim: Path, root: Path) -> None:
    shutil.rmtree(root / "data")
    result = run(shim, root, command(root))
    assert result.returncode == 2
    assert "does not exist" in result.err


MLTABLES = [
    (FIXTURES / "table" / "MLTable").read_text(),
    "paths:\n- file: ./a.csv\n- pattern: './*.csv'  # all\ntransformations:\n"
    '- read_delimited:\n    delimiter: ";"\n    header: no_header\n    include_path_column: true\n',
    "type: mltable\npaths:\n  - folder: data\n",
]


@pytest.mark.parametrize("text", MLTABLES)
def test_the_mltable_subset_reads_as_pyyaml_does(text: str) -> None:
    assert mini_yaml(text) == yaml.safe_load(text)


def test_the_mltable_subset_refuses_what_it_cannot_read() -> None:
    with pytest.raises(InputError, match="add pyyaml"):
        mini_yaml("paths: [{file: a.csv}]\n")
