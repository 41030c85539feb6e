"""Run servers one at a time, each in its own process group, and always stop them.

Every live group is listed in PIDFILE so that run.sh's trap can kill what a
crashed Python left behind.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from bench.targets import Launch

PIDFILE = Path(__file__).resolve().parent / "results" / "servers.pids"
STOP_GRACE_SECONDS = 15.0
_live: set[int] = set()


class ServerError(RuntimeError):
    """A server exited or never became ready."""


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_pidfile() -> None:
    PIDFILE.parent.mkdir(parents=True, exist_ok=True)
    PIDFILE.write_text("".join(f"{pgid}\n" for pgid in sorted(_live)))


def start(launch: Launch, log_path: Path) -> subprocess.Popen[bytes]:
    """Exec the server in a new session (its own process group), its output in log_path.

    The log is truncated: it keeps the latest start only (full-telemetry logs run to
    hundreds of MB per run, and a failed start is always the latest one).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            launch.argv,
            cwd=launch.cwd,
            env=launch.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _live.add(process.pid)
    _write_pidfile()
    return process


def answers(port: int, path: str, timeout: float = 1.0) -> bool:
    """True when GET path on 127.0.0.1:port answers 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        connection.close()


def wait_ready(
    process: subprocess.Popen[bytes],
    port: int,
    path: str,
    timeout: float = 60.0,
    interval: float = 0.02,
) -> float:
    """Poll every `interval` s until the server answers 200 on path; return the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise ServerError(
                f"server exited with code {process.returncode} before answering {path}"
            )
        if answers(port, path):
            return time.perf_counter() - started
        time.sleep(interval)
    raise ServerError(f"server did not answer 200 on {path} within {timeout:.0f} s")


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole group, SIGKILL it after a grace period, then reap."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_GRACE_SECONDS)
    _signal_group(process.pid, signal.SIGKILL)  # workers orphaned by a dying master
    _live.discard(process.pid)
    _write_pidfile()


def stop_all() -> None:
    """Kill every group still listed as live (used on exit and on signals)."""
    for pgid in list(_live):
        _signal_group(pgid, signal.SIGKILL)
        _live.discard(pgid)
    _write_pidfile()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so that every `finally` and stop_all run."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit_on_signal)


@contextlib.contextmanager
def running(launch: Launch, port: int, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A started, ready server, stopped on leaving the block whatever happens."""
    process = start(launch, log_path)
    try:
        try:
            wait_ready(process, port, launch.ready_path)
        except ServerError as error:
            raise ServerError(f"{error} (log: {log_path})") from None
        yield process
    finally:
        stop(process)
