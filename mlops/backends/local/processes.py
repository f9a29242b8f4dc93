"""Processes this machine's servers run as: identity of a recorded pid, busy ports, process trees.

psutil is imported inside the functions: the CLI imports this module's users at start-up.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mlops.errors import BackendError

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def started_at(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch); None when there is no such process.

    Recorded beside a pid, it tells the process we started from a later one that reuses its pid.
    """
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return None


def is_same_process(pid: int, created: float | None, marker: str | None = None) -> bool:
    """Whether `pid` is still the process recorded as started at `created`.

    Without a recorded start time (state written by an older mlops), the command line must
    contain `marker` instead.
    """
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if created is not None:
            return abs(process.create_time() - created) < 0.05
        return marker is not None and marker in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return False


def group_alive(pgid: int) -> bool:
    """Any process of the group still running; zombies (exited, not yet reaped) do not count."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return bool(_group_members(pgid))


def stop_group(pgid: int, grace: float = 10.0) -> None:
    """SIGTERM a process group (a server and its workers), SIGKILL what lingers after `grace`.

    The caller has checked the leader's identity: a group id cannot be reused while any
    member of the group lives, so signalling it never reaches a stranger.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + grace
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not group_alive(pgid):
            return


def listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` itself holds the listening socket on 127.0.0.1:`port`.

    Tells our server's answer from another program's that got to the port first.
    """
    import psutil

    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return False
    return any(
        c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in connections
    )


def ensure_port_free(port: int, host: str = "127.0.0.1") -> None:
    """Raise BackendError naming the port when something already listens on it.

    Binds as gunicorn and uvicorn do (SO_REUSEADDR), so a port in TIME_WAIT counts as free.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise BackendError(
                    f"port {port} on {host} is already in use",
                    hint=f"stop what listens there (e.g. `ss -ltnp 'sport = :{port}'`)"
                    " or choose another port with --port",
                ) from None
            raise


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_tree(pid: int, grace: float = 10.0) -> None:
    """Stop process `pid`, its process group and every descendant, SIGKILL after `grace`.

    Descendants are collected before signalling: once a parent exits, its children are
    re-parented and can no longer be found through it (MLflow's UI spawns uvicorn or
    gunicorn and huey workers).
    """
    import psutil

    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    family += [p for p in _group_processes(pid) if p not in family]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        for process in family:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                process.send_signal(sig)
        _, family = psutil.wait_procs(family, timeout=grace)
        if not family:
            return


class _Stopped(Exception):
    def __init__(self, signum: int) -> None:
        self.signum = signum


def run_foreground(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    grace: float = 10.0,
) -> int:
    """Run `command` until it exits or this process gets SIGTERM, SIGINT or SIGHUP.

    The command runs in its own process group; on any of those signals, its whole tree is
    stopped before returning, so nothing keeps serving once `mlops serve` or `mlops ui` is
    gone. Returns the command's exit code, or 128 + the signal's number when stopped.
    """
    process = subprocess.Popen(
        list(command), cwd=cwd, env=env, start_new_session=True, preexec_fn=_die_with_parent
    )
    stopping: list[int] = []

    def stop(signum: int, frame: object) -> None:
        if not stopping:  # the first signal stops; more while stopping change nothing
            stopping.append(signum)
            raise _Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        return process.wait()
    except _Stopped as stopped:
        return 128 + stopped.signum
    finally:
        try:
            if stopping or process.poll() is None or group_alive(process.pid):
                stop_tree(process.pid, grace)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the parent dies, even by SIGKILL, which no handler sees."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _group_processes(pgid: int) -> list:
    import psutil

    found = []
    for pid in _group_members(pgid):
        with contextlib.suppress(psutil.NoSuchProcess):
            found.append(psutil.Process(pid))
    return found
