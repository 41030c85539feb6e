"""Run wrk with bench/request.lua and read the one JSON line its done() prints."""

from __future__ import annotations

import dataclasses
import json
import subprocess

from bench.options import ROOT

SCRIPT = ROOT / "bench" / "request.lua"
MARKER = "BENCH_RESULT "
KINDS = ("get", "post")
PATH = "/anything"


class WrkError(RuntimeError):
    """wrk failed or printed no result line."""


@dataclasses.dataclass(frozen=True)
class WrkResult:
    """One wrk run. Errors are non-2xx/3xx answers plus socket errors (connect, read, write, timeout)."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    status_errors: int
    socket_errors: int

    @property
    def errors(self) -> int:
        """Every failed exchange wrk saw."""
        return self.status_errors + self.socket_errors


@dataclasses.dataclass(frozen=True)
class Traffic:
    """Which wrk script shapes the requests, and its arguments after the kind."""

    script: str = "request.lua"
    args: tuple[str, ...] = ()


PLAIN = Traffic()
CLOUD_RUN = Traffic("cloudrun.lua", ("100",))  # traceparent on every request, 1 in 100 sampled
UNSAMPLED = Traffic("cloudrun.lua", ("0",))  # traceparent on every request, none sampled


def command(
    port: int, kind: str, seconds: int, connections: int, threads: int, traffic: Traffic = PLAIN
) -> list[str]:
    """The wrk command line for one run against 127.0.0.1."""
    if kind not in KINDS:
        raise ValueError(f"unknown request kind {kind!r}")
    url = f"http://127.0.0.1:{port}{PATH}"
    script = SCRIPT.with_name(traffic.script)
    return [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        "--latency", "-s", str(script), url, "--", kind, *traffic.args,
    ]  # fmt: skip


def parse(output: str) -> WrkResult:
    """Read the BENCH_RESULT line (wrk's own text is kept only for the log)."""
    lines = [line for line in output.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise WrkError(f"no {MARKER.strip()} line in wrk output:\n{output}")
    raw = json.loads(lines[-1][len(MARKER) :])
    seconds = raw["duration_us"] / 1e6
    return WrkResult(
        requests=raw["requests"],
        seconds=seconds,
        rps=raw["requests"] / seconds if seconds > 0 else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        status_errors=raw["status"],
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
    )


def run(
    port: int,
    kind: str,
    seconds: int,
    connections: int = 16,
    threads: int = 1,
    traffic: Traffic = PLAIN,
) -> tuple[WrkResult, str]:
    """Run wrk once; return the parsed result and wrk's full output."""
    argv = command(port, kind, seconds, connections, threads, traffic)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise WrkError(f"wrk exited with {done.returncode}:\n{output}")
    return parse(output), output
