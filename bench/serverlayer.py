"""The server layer alone: the bare WSGI app under stock gthread vs echoscope's worker.

`python -m bench.serverlayer wall [ROUNDS] [SECONDS]` starts the bare app (bench/peers/bare.py)
under gunicorn's stock gthread worker and under echoscope's (config/gunicorn.conf.py, telemetry
off), alternately, 1 worker x 8 threads, keep-alive 5, and runs `wrk -t1 -c16` (bench/request.lua's
browser-like GET) against each; it prints each run, the medians and their ratio, and the worker's
CPU time (user + kernel, from /proc) per request, which other load on the machine moves less.

`python -m bench.serverlayer instructions [N]` counts, under valgrind's callgrind, the
instructions the worker process executes for N and for 4N sequential keep-alive GETs, and prints
the difference per request (start-up cancels out): the figure noise leaves alone. The requests
go one at a time over 4 connections in turn, or with CLIENTS=concurrent from 4 client threads at
once. valgrind
cannot run gunicorn_h1c's SSE4.2 parser, so both use gunicorn's Python parser there.

Both run on the project's .venv (the same gunicorn for both workers).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bench import wrk
from bench.servers import free_port, wait_ready
from bench.targets import TELEMETRY_OFF, base_env

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
APP = "bench.peers.bare:app"
KINDS = ("stock", "echoscope")
# SERVERLAYER_BEFORE=DIR (an unpacked older tree, e.g. `git archive REV | tar -x -C DIR`) adds
# its echoscope worker as a third server, "before", run from DIR with the same interpreter.
BEFORE = os.environ.get("SERVERLAYER_BEFORE")
CONCURRENT = os.environ.get("CLIENTS") == "concurrent"


def kinds() -> tuple[str, ...]:
    return (*KINDS, "before") if BEFORE else KINDS


def argv(kind: str, port: int, prefix: list[str] | None = None) -> list[str]:
    base = [*(prefix or []), str(PYTHON), "-m", "gunicorn"]
    sizing = ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8"]
    if prefix:  # valgrind: no heartbeat kill, and no SSE4.2 (gunicorn_h1c's picohttpparser)
        sizing += ["--timeout", "0", "--http-parser", "python"]
    if kind == "stock":
        return [*base, *sizing, "--worker-class", "gthread", "--keep-alive", "5",
                "--no-control-socket", APP]  # fmt: skip
    return [*base, "-c", "config/gunicorn.conf.py", *sizing, APP]


def env() -> dict[str, str]:
    return base_env() | TELEMETRY_OFF | {"PYTHONHASHSEED": "0"}


@contextlib.contextmanager
def serving(
    kind: str, prefix: list[str] | None = None
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        argv(kind, port, prefix),
        cwd=BEFORE if kind == "before" and BEFORE else ROOT,
        env=env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(process, port, "/health", timeout=300)
        yield port, process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def wall(rounds: int, seconds: int) -> None:
    results: dict[str, list[float]] = {kind: [] for kind in kinds()}
    cpu: dict[str, list[float]] = {kind: [] for kind in kinds()}
    for index in range(rounds):
        order = kinds() if index % 2 == 0 else kinds()[::-1]
        for kind in order:
            with serving(kind) as (port, process):
                wrk.run(port, "get", 1)  # warm-up
                worker = _worker_pid(process.pid)
                before = _cpu_seconds(worker)
                result, _ = wrk.run(port, "get", seconds)
                used = _cpu_seconds(worker) - before
            results[kind].append(result.rps)
            cpu[kind].append(used / result.requests * 1e6)
            print(f"round {index + 1} {kind:9} {result.rps:8.0f} req/s p99 {result.p99_ms:.2f} ms"
                  f" errors {result.errors}, worker CPU {cpu[kind][-1]:.0f} us/req",
                  flush=True)  # fmt: skip
    for kind in kinds():
        print(f"median worker CPU {kind:9} {statistics.median(cpu[kind]):.0f} us/req")
    stock, ours = (statistics.median(results[kind]) for kind in KINDS)
    if BEFORE:
        before = statistics.median(results["before"])
        print(f"median before {before:.0f} req/s ({1e6 / before:.0f} us/req): before/stock"
              f" {before / stock:.3f}")  # fmt: skip
    print(f"median stock {stock:.0f} req/s ({1e6 / stock:.0f} us/req), echoscope {ours:.0f} req/s"
          f" ({1e6 / ours:.0f} us/req): echoscope/stock {ours / stock:.3f}")  # fmt: skip


def _worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def _cpu_seconds(pid: int) -> float:
    """utime + stime of the process, all threads (user and kernel time: syscalls, futexes)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_REQUEST = (
    b"GET /anything HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
    b"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-GB,en;q=0.9\r\n"
    b"Cookie: session=6f1c2a9e0d7b4c3a; theme=dark\r\n"
    b"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n"
)


def _exchange(sock: socket.socket) -> None:
    sock.sendall(_REQUEST)
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("closed")
        data += chunk


def _drive(port: int, count: int, connections: int = 4) -> None:
    """`count` GETs: one at a time over `connections` kept-alive connections in turn, or
    (CLIENTS=concurrent) one client thread per connection, each sending its next request
    as soon as it has its answer, as wrk does."""
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    try:
        if not CONCURRENT:
            for index in range(count):
                _exchange(socks[index % connections])
            return
        clients = [
            threading.Thread(
                target=lambda s=sock: [_exchange(s) for _ in range(count // connections)]
            )
            for sock in socks
        ]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
    finally:
        for sock in socks:
            sock.close()


_SUMMARY = re.compile(rb"^(?:summary|totals): (\d+)", re.MULTILINE)


def _worker_instructions(kind: str, count: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "cg.%p")
        prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-line=no"]
        with serving(kind, prefix) as (port, process):
            _drive(port, 30)  # warm-up
            _drive(port, count)
        totals = []
        for path in glob.glob(os.path.join(folder, "cg.*")):
            if path.endswith(f".{process.pid}"):
                continue  # the master
            found = _SUMMARY.search(Path(path).read_bytes())
            if found:
                totals.append(int(found.group(1)))
        return max(totals)  # the worker (the one that served)


def instructions(count: int) -> None:
    for kind in kinds():
        low = _worker_instructions(kind, count)
        high = _worker_instructions(kind, 4 * count)
        print(f"{kind:9} {(high - low) / (3 * count):10.0f} instructions per request", flush=True)


def main(args: list[str]) -> None:
    mode = args[0] if args else "wall"
    if mode == "wall":
        wall(int(args[1]) if len(args) > 1 else 5, int(args[2]) if len(args) > 2 else 8)
    elif mode == "instructions":
        instructions(int(args[1]) if len(args) > 1 else 500)
    else:
        raise SystemExit(__doc__)
    time.sleep(0)


if __name__ == "__main__":
    main(sys.argv[1:])
