"""The server layer alone: the bare WSGI app under stock gthread vs echoscope's worker.

`python -m bench.serverlayer wall [ROUNDS] [SECONDS]` starts the bare app (bench/peers/bare.py)
under gunicorn's stock gthread worker and under echoscope's (config/gunicorn.conf.py, telemetry
off), alternately, 1 worker x 8 threads, keep-alive 5, and runs `wrk -t1 -c16` (bench/request.lua's
browser-like GET) against each; it prints each run and the medians and their ratio.

`python -m bench.serverlayer instructions [N]` counts, under valgrind's callgrind, the
instructions the worker process executes for N and for 4N sequential keep-alive GETs, and prints
the difference per request (start-up cancels out): the figure noise leaves alone. valgrind
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
        cwd=ROOT,
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
    results: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for index in range(rounds):
        order = KINDS if index % 2 == 0 else KINDS[::-1]
        for kind in order:
            with serving(kind) as (port, _):
                wrk.run(port, "get", 1)  # warm-up
                result, _ = wrk.run(port, "get", seconds)
            results[kind].append(result.rps)
            print(f"round {index + 1} {kind:9} {result.rps:8.0f} req/s p99 {result.p99_ms:.2f} ms"
                  f" errors {result.errors}", flush=True)  # fmt: skip
    stock, ours = (statistics.median(results[kind]) for kind in KINDS)
    print(f"median stock {stock:.0f} req/s ({1e6 / stock:.0f} us/req), echoscope {ours:.0f} req/s"
          f" ({1e6 / ours:.0f} us/req): echoscope/stock {ours / stock:.3f}")  # fmt: skip


_REQUEST = (
    b"GET /anything HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n"
    b"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-GB,en;q=0.9\r\n"
    b"Cookie: session=6f1c2a9e0d7b4c3a; theme=dark\r\n"
    b"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n"
)


def _drive(port: int, count: int, connections: int = 4) -> None:
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    try:
        for index in range(count):
            sock = socks[index % connections]
            sock.sendall(_REQUEST)
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("closed")
                data += chunk
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
    for kind in KINDS:
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
