"""The launcher as the executor runs it: real ranks, real signals, no torch or tensorflow."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mlops.pipeline.distribution import Distribution, wrap
from mlops.pipeline.expressions import render

DRIVERS = Path(__file__).resolve().parents[2] / "mlops" / "backends" / "local" / "drivers"


@pytest.fixture(scope="module")
def drivers_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding `mlops_local_drivers`, as the copy a step's environment gets."""
    folder = tmp_path_factory.mktemp("drivers")
    (folder / "mlops_local_drivers").symlink_to(DRIVERS, target_is_directory=True)
    return folder


@pytest.fixture
def env(drivers_path: Path, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(drivers_path),
        "OUT": str(tmp_path),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }


def launcher(*options: str, command: str) -> list[str]:
    """`-S`: no site-packages, so the launcher cannot lean on mlops or anything installed."""
    return [sys.executable, "-S", "-m", "mlops_local_drivers.launch", *options, "--", command]


def launch(
    *options: str, command: str, env: dict[str, str], timeout: float = 10
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        launcher(*options, command=command),
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def rank_files(folder: Path, suffix: str = ".env") -> dict[int, dict[str, str]]:
    """What each rank wrote with `env > $OUT/$RANK.env`, by rank."""
    found = {}
    for file in folder.glob(f"*{suffix}"):
        lines = file.read_text().splitlines()
        found[int(file.stem)] = dict(line.split("=", 1) for line in lines if "=" in line)
    return found


@pytest.fixture
def no_strays() -> Iterator[list[int]]:
    """Pids a test records; each must be gone (or a zombie) by the test's end."""
    pids: list[int] = []
    yield pids
    alive = [pid for pid in pids if _alive(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"left running: {alive}"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_pytorch_ranks_share_a_master_and_world(env: dict[str, str], tmp_path: Path) -> None:
    result = launch(
        "--type", "pytorch", "--processes-per-instance", "2",
        command='env > "$OUT/$RANK.env"; echo "hello from $RANK"',
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    ranks = rank_files(tmp_path)
    assert sorted(ranks) == [0, 1]
    for number, variables in ranks.items():
        assert variables["RANK"] == variables["LOCAL_RANK"] == str(number)
        assert variables["WORLD_SIZE"] == "2"
        assert variables["NODE_RANK"] == "0"
        assert variables["MASTER_ADDR"] == variables["AZ_BATCHAI_MPI_MASTER_NODE"] == "127.0.0.1"
        assert variables["AZ_BATCH_MASTER_NODE"] == f"127.0.0.1:{variables['MASTER_PORT']}"
        assert variables["AZUREML_PROCESS_NAME"] == f"rank_{number}"
        assert variables["AZ_BATCHAI_CLUSTER_NAME"] == "fake_cluster_name"
    assert ranks[0]["MASTER_PORT"] == ranks[1]["MASTER_PORT"]
    assert 0 < int(ranks[0]["MASTER_PORT"]) < 65536
    assert sorted(result.stdout.splitlines()) == ["[rank 0] hello from 0", "[rank 1] hello from 1"]


def test_instances_become_node_ranks(env: dict[str, str], tmp_path: Path) -> None:
    result = launch(
        "--type", "pytorch", "--instances", "2", "--processes-per-instance", "2",
        command='env > "$OUT/$RANK.env"',
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    ranks = rank_files(tmp_path)
    assert sorted(ranks) == [0, 1, 2, 3]
    assert [ranks[r]["NODE_RANK"] for r in range(4)] == ["0", "0", "1", "1"]
    assert [ranks[r]["LOCAL_RANK"] for r in range(4)] == ["0", "1", "0", "1"]
    assert [ranks[r]["AZUREML_CR_NODE_RANK"] for r in range(4)] == ["0", "0", "1", "1"]
    assert {ranks[r]["WORLD_SIZE"] for r in range(4)} == {"4"}
    assert len({ranks[r]["MASTER_PORT"] for r in range(4)}) == 1
    assert ranks[2]["AZ_BATCH_NODE_ID"] != ranks[0]["AZ_BATCH_NODE_ID"]


def test_tensorflow_tasks_share_one_cluster(env: dict[str, str], tmp_path: Path) -> None:
    result = launch(
        "--type", "tensorflow", "--workers", "2", "--parameter-servers", "1",
        command='printf "%s" "$TF_CONFIG" > "$OUT/$AZUREML_PROCESS_NAME.json"',
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    configs = [json.loads((tmp_path / f"rank_{n}.json").read_text()) for n in range(3)]
    assert [c["task"] for c in configs] == [
        {"type": "worker", "index": 0},
        {"type": "worker", "index": 1},
        {"type": "ps", "index": 0},
    ]
    cluster = configs[0]["cluster"]
    assert all(c["cluster"] == cluster and c["environment"] == "cloud" for c in configs)
    assert len(cluster["worker"]) == 2 and len(cluster["ps"]) == 1
    addresses = cluster["worker"] + cluster["ps"]
    assert len(set(addresses)) == 3 and all(a.startswith("127.0.0.1:") for a in addresses)


def test_tensorflow_without_parameter_servers_has_an_empty_ps(env: dict[str, str]) -> None:
    result = launch("--type", "tensorflow", "--workers", "1", command="echo $TF_CONFIG", env=env)
    (line,) = result.stdout.splitlines()
    assert json.loads(line.removeprefix("[rank 0] "))["cluster"]["ps"] == []


def test_a_failing_rank_stops_the_others_with_its_code(
    env: dict[str, str], tmp_path: Path, no_strays: list[int]
) -> None:
    command = 'echo $$ > "$OUT/$RANK.pid"; if [ "$RANK" = 1 ]; then sleep 0.3; exit 3; fi; sleep 60'
    started = time.monotonic()
    result = launch("--processes-per-instance", "3", command=command, env=env)
    assert time.monotonic() - started < 5
    no_strays.extend(int(p.read_text()) for p in tmp_path.glob("*.pid"))
    assert len(no_strays) == 3
    assert result.returncode == 3
    assert "rank 1 failed first (exit code 3)" in result.stderr


def test_a_rank_ignoring_sigterm_gets_sigkill_after_the_grace(
    env: dict[str, str], tmp_path: Path, no_strays: list[int]
) -> None:
    command = (
        'trap "" TERM; echo $$ > "$OUT/$RANK.pid";'
        ' if [ "$RANK" = 0 ]; then until [ -s "$OUT/1.pid" ]; do sleep 0.02; done; exit 5; fi;'
        " while :; do sleep 0.05; done"
    )
    started = time.monotonic()
    result = launch("--processes-per-instance", "2", "--grace", "0.5", command=command, env=env)
    assert 0.5 <= time.monotonic() - started < 4
    no_strays.extend(int(p.read_text()) for p in tmp_path.glob("*.pid"))
    assert result.returncode == 5


def test_sigterm_to_the_launcher_stops_every_rank_and_what_it_started(
    env: dict[str, str], tmp_path: Path, no_strays: list[int]
) -> None:
    command = 'echo $$ > "$OUT/$RANK.pid"; sleep 60 & echo $! > "$OUT/$RANK.child"; wait'
    process = subprocess.Popen(
        launcher("--processes-per-instance", "2", command=command),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_for(lambda: len(list(tmp_path.glob("*.child"))) == 2)
    _wait_for(lambda: all(p.read_text().strip() for p in tmp_path.glob("*.child")))
    pids = [int(p.read_text()) for p in [*tmp_path.glob("*.pid"), *tmp_path.glob("*.child")]]
    no_strays.extend(pids)
    assert all(_alive(pid) for pid in pids)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=5)
    assert process.returncode == 128 + signal.SIGTERM
    assert b"SIGTERM: stopping every rank" in stderr
    _wait_for(lambda: not any(_alive(pid) for pid in pids), timeout=2)


def test_ranks_die_with_a_killed_launcher(
    env: dict[str, str], tmp_path: Path, no_strays: list[int]
) -> None:
    """SIGKILL, which no handler sees: each rank's first process follows (PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    process = subprocess.Popen(
        launcher(
            "--processes-per-instance", "2", command='echo $$ > "$OUT/$RANK.pid"; exec sleep 60'
        ),
        env=env,
        stdout=subprocess.DEVNULL,
    )
    _wait_for(lambda: len([p for p in tmp_path.glob("*.pid") if p.read_text().strip()]) == 2)
    pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
    no_strays.extend(pids)
    process.kill()
    process.wait(timeout=5)
    _wait_for(lambda: not any(_alive(pid) for pid in pids), timeout=2)


def test_lines_are_prefixed_whole_and_never_mixed(env: dict[str, str]) -> None:
    command = (
        'for i in $(seq 200); do printf "%s %0500d\\n" "$RANK" "$i"; done;'
        ' printf "%s" "tail-$RANK" >&2'
    )
    result = launch("--processes-per-instance", "3", command=command, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 * 201
    for line in lines:
        prefix, _, text = line.partition("] ")
        rank = prefix.removeprefix("[rank ")
        assert text == f"tail-{rank}" or (text.startswith(f"{rank} ") and len(text) == 502)


def test_a_rendered_command_runs_unchanged_in_every_rank(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Render first, then wrap: the value and the literal, quotes, spaces and $() included,
    reach each rank as written, and nothing in them is executed."""
    template = (
        """cd "$OUT" && printf '%s\\n' ${{inputs.name}} 'a "b"  $(touch literal)' """
        """"it's $RANK" > "$RANK.txt" """
    )
    value = "x y$(touch pwned)'"
    rendered = render(template, lambda ref: value if ref == ("inputs", "name") else None)
    dist = Distribution("pytorch", process_count_per_instance=2)
    result = subprocess.run(
        ["/bin/bash", "-c", wrap(rendered, dist)],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for rank in (0, 1):
        assert (tmp_path / f"{rank}.txt").read_text().splitlines() == [
            value,
            'a "b"  $(touch literal)',
            f"it's {rank}",
        ]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "literal").exists()


def test_bad_counts_are_a_usage_error(env: dict[str, str]) -> None:
    result = launch("--processes-per-instance", "0", command="true", env=env)
    assert result.returncode == 2
    assert "at most 64" in result.stderr


def test_mpi_without_mpirun_exits_2_with_the_fix(env: dict[str, str], tmp_path: Path) -> None:
    result = launch(
        "--type", "mpi", "--processes-per-instance", "2",
        command="true",
        env={**env, "PATH": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 2
    assert "apt-get install openmpi-bin" in result.stderr


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="Open MPI is not installed")
def test_mpi_ranks_get_open_mpi_variables(env: dict[str, str], tmp_path: Path) -> None:
    result = launch(
        "--type", "mpi", "--instances", "2", "--processes-per-instance", "1",
        command='env > "$OUT/$OMPI_COMM_WORLD_RANK.env"; echo hi',
        env=env,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    ranks = rank_files(tmp_path)
    assert sorted(ranks) == [0, 1]
    for number, variables in ranks.items():
        assert variables["OMPI_COMM_WORLD_SIZE"] == "2"
        assert variables["AZ_BATCH_MASTER_NODE"].startswith("127.0.0.1:")
        assert variables["AZ_BATCHAI_MPI_MASTER_NODE"] == "127.0.0.1"
        assert variables["AZUREML_CR_NODE_RANK"] == str(number)
    assert sorted(result.stdout.splitlines()) == ["[rank 0] hi", "[rank 1] hi"]
