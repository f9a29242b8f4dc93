"""Run one step's command as the ranks of a distributed job, all on this machine.

    python -m mlops_local_drivers.launch --type pytorch --instances 2
        --processes-per-instance 2 -- 'python train.py --epochs 3'   (one line)

Each rank runs `/bin/bash -c COMMAND` with the variables Azure ML sets on its nodes; its
output (stdout and stderr) is printed line by line as `[rank N] LINE`. The first rank to
fail fails the step: the others get SIGTERM, SIGKILL after `--grace` seconds, and the
launcher exits with that rank's code. SIGTERM, SIGINT or SIGHUP to the launcher stop every
rank the same way (exit 128 + the signal).

Each rank runs in its own process group, so a rank and everything it started stop together,
and a rank can be stopped without signalling the launcher's own group (which belongs to the
step). A rank's first process also gets SIGKILL if the launcher dies without cleaning up (Linux
PR_SET_PDEATHSIG). The grace (3 s) is shorter than the executor's (10 s), so a stopped step
has stopped its ranks before the executor's SIGKILL reaches the launcher.

Standard library only, no mlops import: it runs in the step's own environment. Python 3.8+.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

HOST = "127.0.0.1"
MAX_PROCESSES = 64  # as mlops.pipeline.distribution.MAX_PROCESSES
LONGEST_LINE = 64 * 1024  # a line longer than this (progress bars with \r) is cut here
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_RUNNING, _DRAINING, _TERMINATING, _KILLED = "running", "draining", "terminating", "killed"

#: What the Azure ML SDK's local runner fakes for a job on this machine
#: (azure-ai-ml, operations/_local_job_invoker.py, CommonRuntimeHelper.LOCAL_JOB_ENV_VARS).
SDK_LOCAL_VARIABLES = {
    "AZ_BATCHAI_CLUSTER_NAME": "fake_cluster_name",
    "AZ_BATCH_NODE_ROOT_DIR": ".",
    "AZ_BATCH_NODE_SHARED_DIR": ".",
    "AZ_BATCH_CERTIFICATES_DIR": ".",
}


def free_ports(count: int) -> list[int]:
    """`count` distinct ports nobody listens on, chosen by the kernel.

    Azure ML's v1 docs give MASTER_PORT 6105: there each job has its nodes to itself. Here
    two distributed steps of one pipeline, another run or another program may use any
    fixed port, so the kernel picks free ones. All sockets stay bound until every port is
    known, which keeps them distinct; the ranks bind them moments later.
    """
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket()
            sockets.append(probe)
            probe.bind((HOST, 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def node_variables(node: int, rank: int) -> dict[str, str]:
    """What every rank on simulated instance `node` gets, whatever the framework."""
    return {
        **SDK_LOCAL_VARIABLES,
        # one id per simulated instance (the SDK's runner, with one node, says "fake_id")
        "AZ_BATCH_NODE_ID": f"fake_id_{node}",
        # azureml-examples deepspeed-autotuning/src/start-deepspeed.sh reads both
        "AZUREML_CR_NODE_RANK": str(node),
        "AZUREML_PROCESS_NAME": f"rank_{rank}",
    }


def pytorch_ranks(instances: int, per_instance: int) -> list[dict[str, str]]:
    """The variables of each PyTorch rank, as torch.distributed's env:// init reads them.

    https://learn.microsoft.com/azure/machine-learning/how-to-train-distributed-gpu (PyTorch):
    MASTER_ADDR, MASTER_PORT, WORLD_SIZE, NODE_RANK per node; RANK and LOCAL_RANK per process.
    RANK = NODE_RANK * processes per instance + LOCAL_RANK.
    """
    (port,) = free_ports(1)
    world = instances * per_instance
    ranks = []
    for node in range(instances):
        for local in range(per_instance):
            rank = node * per_instance + local
            ranks.append(
                {
                    **node_variables(node, rank),
                    "MASTER_ADDR": HOST,
                    "MASTER_PORT": str(port),
                    "WORLD_SIZE": str(world),
                    "RANK": str(rank),
                    "LOCAL_RANK": str(local),
                    "NODE_RANK": str(node),
                    # the v1 how-to-train-distributed-gpu (MPI section): "MASTER_ADDR:PORT",
                    # and the master's address alone, as PyTorch Lightning snippets read them
                    "AZ_BATCH_MASTER_NODE": f"{HOST}:{port}",
                    "AZ_BATCHAI_MPI_MASTER_NODE": HOST,
                }
            )
    return ranks


def tensorflow_ranks(workers: int, servers: int) -> list[dict[str, str]]:
    """TF_CONFIG for each task: workers first (rank 0 is worker 0, the chief), then the ps.

    https://learn.microsoft.com/azure/machine-learning/how-to-train-distributed-gpu
    (TensorFlow): `{"cluster": {"worker": [...]}, "task": {"type", "index"}, "environment":
    "cloud"}`. `"ps": []` when there are no parameter servers, as on Azure ML (the
    azureml-examples tensorflow/mnist-distributed train.py deletes it for TF 2.13+).
    """
    ports = free_ports(workers + servers)
    cluster = {
        "worker": [f"{HOST}:{port}" for port in ports[:workers]],
        "ps": [f"{HOST}:{port}" for port in ports[workers:]],
    }
    tasks = [("worker", i) for i in range(workers)] + [("ps", i) for i in range(servers)]
    return [
        {
            **node_variables(0, rank),
            "TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": kind, "index": index}, "environment": "cloud"}
            ),
        }
        for rank, (kind, index) in enumerate(tasks)
    ]


class Rank:
    """One started process: its output, split into whole lines and prefixed."""

    def __init__(self, number: int, prefix: str, process: subprocess.Popen) -> None:
        self.number = number
        self.prefix = prefix.encode()
        self.process = process
        self.pending = b""
        self.open = True  # its output pipe: closed once nothing holds it any more
        self.code: int | None = None

    def lines(self, data: bytes) -> bytes:
        """The whole lines `data` completes, prefixed; an incomplete end waits for more."""
        self.pending += data
        out = []
        while True:
            end = self.pending.find(b"\n")
            if end < 0 and len(self.pending) >= LONGEST_LINE:
                end = LONGEST_LINE - 1
            elif end < 0:
                break
            out.append(self.prefix + self.pending[: end + 1].rstrip(b"\n") + b"\n")
            self.pending = self.pending[end + 1 :]
        return b"".join(out)

    def rest(self) -> bytes:
        """The last line, when the output did not end with a newline."""
        rest, self.pending = self.pending, b""
        return self.prefix + rest + b"\n" if rest else b""


class Launcher:
    """Starts the ranks, copies their lines to stdout, stops them all when one fails."""

    def __init__(
        self,
        command: str,
        ranks: list[dict[str, str]],
        grace: float,
        prefix: str = "[rank {}] ",
        what: str = "rank {}",
    ) -> None:
        self.command = command
        self.environments = ranks
        self.grace = grace
        self.prefix = prefix  # of each output line; "" for mpirun, whose ranks prefix their own
        self.what = what  # a process, in messages
        self.signalled: int | None = None
        self.ranks: list[Rank] = []

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            return self._run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.signalled is None:
            self.signalled = signum

    def _run(self) -> int:
        selector = selectors.DefaultSelector()
        for number, variables in enumerate(self.environments):
            if self.signalled is not None:
                break  # stopped while starting: start no more
            process = subprocess.Popen(
                ["/bin/bash", "-c", self.command],
                env={**os.environ, **variables},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with(os.getpid()),
            )
            rank = Rank(number, self.prefix.format(number), process)
            self.ranks.append(rank)
            assert process.stdout is not None
            os.set_blocking(process.stdout.fileno(), False)
            selector.register(process.stdout, selectors.EVENT_READ, rank)
        failed: Rank | None = None
        phase, since = _RUNNING, time.monotonic()
        while True:
            for key, _ in selector.select(timeout=0.1):
                self._read(selector, key)
            for rank in self.ranks:
                if rank.code is None:
                    rank.code = rank.process.poll()
                    if rank.code and failed is None and phase == _RUNNING:
                        failed = rank
                        failure = f"{self.what.format(rank.number)} failed"
                        failure += f" (exit code {_exit_code(rank.code)})"
                        if len(self.ranks) > 1:
                            failure = failure.replace(" failed", " failed first", 1)
                            failure += "; stopping the others"
                        _say(failure)
            exited = all(rank.code is not None for rank in self.ranks)
            if exited and not any(rank.open for rank in self.ranks):
                break
            now = time.monotonic()
            if phase == _RUNNING and (failed or self.signalled):
                if self.signalled is not None and not failed:
                    who = "every rank" if len(self.ranks) > 1 else self.what.format(0)
                    _say(f"{signal.Signals(self.signalled).name}: stopping {who}")
                self._signal_all(signal.SIGTERM)
                phase, since = _TERMINATING, now
            elif phase == _RUNNING and exited:
                # every rank exited, yet something one started in the background holds its
                # output: a moment to finish, then it goes too, as when a job ends on Azure
                phase, since = _DRAINING, now
            elif phase == _DRAINING and now - since > 1.0:
                self._signal_all(signal.SIGTERM)
                phase, since = _TERMINATING, now
            elif phase == _TERMINATING and now - since > self.grace:
                self._signal_all(signal.SIGKILL)
                phase, since = _KILLED, now
            elif phase == _KILLED and now - since > 1.0:
                break  # what still holds a pipe left the ranks' groups: stop waiting for it
        for rank in self.ranks:
            if rank.open and rank.process.stdout is not None:
                _write(rank.rest())
                rank.process.stdout.close()
            rank.process.wait()
        if self.signalled is not None:
            return 128 + self.signalled
        return _exit_code(failed.code) if failed is not None and failed.code else 0

    def _read(self, selector: selectors.BaseSelector, key: selectors.SelectorKey) -> None:
        """Copy what a rank wrote, whole lines only; at its end, its last partial line."""
        rank = key.data
        try:
            data = os.read(key.fd, 65536)
        except BlockingIOError:
            return
        if data:
            _write(rank.lines(data))
            return
        _write(rank.rest())
        selector.unregister(key.fileobj)
        key.fileobj.close()
        rank.open = False

    def _signal_all(self, sig: int) -> None:
        """Signal each rank's group while it has a member: the rank's first process is
        unreaped, or something it started still holds the output pipe. Either keeps the
        group's id from being reused by a stranger."""
        for rank in self.ranks:
            if rank.code is None or rank.open:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(rank.process.pid, sig)


def _die_with(parent: int) -> Callable[[], None]:
    """In a rank, before exec: SIGKILL when the launcher dies, even by SIGKILL (Linux only)."""

    def preexec() -> None:
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            except (OSError, AttributeError):
                return
            if os.getppid() != parent:  # the launcher died before prctl
                os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def _exit_code(code: int | None) -> int:
    """A shell's exit code for Popen's returncode (negative: killed by that signal)."""
    if code is None:
        return 1
    return 128 - code if code < 0 else code


def _write(data: bytes) -> None:
    if data:
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            pass


def _say(message: str) -> None:
    print(f"[launcher] {message}", file=sys.stderr, flush=True)


def run_mpi(command: str, instances: int, per_instance: int, grace: float) -> int:
    """`mpirun -np N` over this file in --mpi-rank mode, which runs the command and prefixes
    its lines. Open MPI sets OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE; the
    master's address comes as on Azure ML (v1 how-to-train-distributed-gpu, MPI section)."""
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        _say("an mpi distribution needs `mpirun` (Open MPI: apt-get install openmpi-bin)")
        return 2
    version = subprocess.run(
        [mpirun, "--version"], capture_output=True, text=True, check=False
    ).stdout
    if "Open MPI" not in version and "OpenRTE" not in version:
        _say(f"{mpirun} is not Open MPI, which Azure ML uses (OMPI_COMM_WORLD_* variables)")
        return 2
    (port,) = free_ports(1)
    variables = {
        **SDK_LOCAL_VARIABLES,
        "AZ_BATCH_MASTER_NODE": f"{HOST}:{port}",
        "AZ_BATCHAI_MPI_MASTER_NODE": HOST,
        # Open MPI refuses root and more ranks than cores unless told; containers run as root
        "OMPI_ALLOW_RUN_AS_ROOT": "1",
        "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    }
    exported = [arg for name in variables for arg in ("-x", name)]
    runner = [
        mpirun,
        "-np",
        str(instances * per_instance),
        "--oversubscribe",
        *exported,
        sys.executable,
        os.path.abspath(__file__),
        "--mpi-rank",
        "--processes-per-instance",
        str(per_instance),
        "--",
        command,
    ]
    return Launcher(shlex.join(runner), [variables], grace, prefix="", what="mpirun").run()


def run_mpi_rank(command: str, per_instance: int, grace: float) -> int:
    """One rank started by mpirun: the command with the per-node variables, lines prefixed."""
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))
    variables = node_variables(rank // per_instance, rank)
    return Launcher(
        command, [variables], grace, prefix=f"[rank {rank}] ", what=f"rank {rank}"
    ).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="launch", description=__doc__.splitlines()[0])
    parser.add_argument("--type", choices=("pytorch", "tensorflow", "mpi"), default="pytorch")
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--processes-per-instance", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--parameter-servers", type=int, default=0)
    parser.add_argument("--grace", type=float, default=3.0, help="seconds before SIGKILL")
    parser.add_argument("--mpi-rank", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("command", help="the bash command each rank runs")
    args = parser.parse_args(argv)
    workers = args.instances if args.workers is None else args.workers
    if args.type == "tensorflow":
        counts, total = (workers, args.parameter_servers + 1), workers + args.parameter_servers
    else:
        counts = (args.instances, args.processes_per_instance)
        total = args.instances * args.processes_per_instance
    if min(counts) < 1 or args.parameter_servers < 0 or total > MAX_PROCESSES:
        parser.error(f"counts must be 1 or more, and at most {MAX_PROCESSES} processes in all")
    if args.mpi_rank:
        return run_mpi_rank(args.command, args.processes_per_instance, args.grace)
    if args.type == "mpi":
        return run_mpi(args.command, args.instances, args.processes_per_instance, args.grace)
    if args.type == "tensorflow":
        ranks = tensorflow_ranks(workers, args.parameter_servers)
    else:
        ranks = pytorch_ranks(args.instances, args.processes_per_instance)
    return Launcher(args.command, ranks, args.grace).run()


if __name__ == "__main__":
    sys.exit(main())
