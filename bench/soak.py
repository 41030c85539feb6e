"""The soak: echoscope under steady mixed load for a long time, then its books checked.

`bash bench/soak.sh --duration 1800` (not part of `make test`):

1. starts a counting OTLP/JSON receiver (bench/sink.py) and echoscope with 2 workers,
   every request traced, its stdout read here line by line (never written to disk);
2. measures the peak of the wrk mix (bench/soak.lua) for a few seconds, then runs it
   paced at `--load` (0.7) of that peak for `--duration` seconds, while a prober sends
   the connection-level cases (each fault, a body cut short, Expect: 100-continue) and
   checks what a client sees, and worker RSS is sampled every few seconds;
3. reports errors (wrk's, and any prober case that did not look as it should), the
   RSS slope of each worker after warm-up, and whether exchange lines = counted
   requests = spans received, in `--out`/soak.json and soak.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import soakprobe, wrk
from bench.options import ROOT
from bench.servers import free_port, stop, wait_ready

EXCLUDED_ROUTES = ('http_route="/health"', 'http_route="/metrics"')
_COUNT = "http_server_request_duration_seconds_count{"


@dataclasses.dataclass
class Lines:
    """What echoscope wrote on stdout: exchange lines counted, other lines kept."""

    exchanges: int = 0
    invalid: int = 0
    others: list[str] = dataclasses.field(default_factory=list)
    interleaved: list[str] = dataclasses.field(default_factory=list)

    def read(self, stream: Any) -> None:
        for raw in stream:
            # Counted by key, not by line: two workers' lines longer than PIPE_BUF can
            # interleave on the pipe (reported as `invalid`), each keeping its key.
            self.exchanges += raw.count(b'"httpRequest"')
            try:
                json.loads(raw)
            except ValueError:
                self.invalid += 1
                if len(self.interleaved) < 5:
                    self.interleaved.append(raw[:300].decode("utf-8", "replace"))
                continue
            if b'"httpRequest"' not in raw and len(self.others) < 2000:
                self.others.append(raw.decode("utf-8", "replace").rstrip())


def _start_sink(port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "bench.sink", str(port), "--count-spans"]
    return subprocess.Popen(argv, cwd=ROOT, start_new_session=True)


def _start_server(port: int, sink: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("ECHO_", "OTEL_"))
    }
    env.update(
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{sink}",
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="http/json",
        OTEL_TRACES_SAMPLER="always_on",
        OTEL_BSP_SCHEDULE_DELAY="500",
        ECHO_MAX_DELAY_SECONDS="2",
    )
    gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    argv = [str(gunicorn), "-c", "config/gunicorn.conf.py", "service.wsgi:app"]
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _sample_rss(master: int, stop_at: float, every: float, out: dict[int, list[Any]]) -> None:
    started = time.monotonic()
    while time.monotonic() < stop_at:
        for pid in _workers(master):
            rss = _rss_kib(pid)
            if rss is not None:
                out.setdefault(pid, []).append((round(time.monotonic() - started, 1), rss))
        time.sleep(every)


def slope_kib_per_min(series: list[tuple[float, int]]) -> float:
    """The least-squares slope of (seconds, KiB) in KiB per minute."""
    if len(series) < 2:
        return 0.0
    xs, ys = [t for t, _ in series], [v for _, v in series]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return cov / var * 60 if var else 0.0


def _counted(port: int) -> int:
    """Requests counted by /metrics, the excluded paths left out (they have no line, no span)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return round(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(_COUNT) and not any(route in line for route in EXCLUDED_ROUTES)
        )
    )


def _sink_stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as answer:
        stats: dict[str, int] = json.loads(answer.read())
    return stats


def _wrk(port: int, seconds: int, connections: int, delay_ms: int) -> wrk.WrkResult:
    argv = [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
        "-s", str(ROOT / "bench" / "soak.lua"), f"http://127.0.0.1:{port}/", "--", str(delay_ms),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, check=False)
    if done.returncode != 0:
        raise wrk.WrkError(done.stdout + done.stderr)
    return wrk.parse(done.stdout + done.stderr)


def _pace(port: int, connections: int, target: float) -> int:
    """The delay between a connection's requests that makes wrk's rate `target` (3 tries).

    wrk waits for each answer: rate = connections / (delay + latency).
    """
    delay = connections * 1000 / target
    for _ in range(3):
        got = _wrk(port, 5, connections, max(1, round(delay))).rps
        latency_ms = connections * 1000 / got - delay
        delay = max(1.0, connections * 1000 / target - latency_ms)
    return max(1, round(delay))


def soak(args: argparse.Namespace) -> dict[str, Any]:
    """Run everything; return the report."""
    port, sink_port = free_port(), free_port()
    sink = _start_sink(sink_port)
    server = _start_server(port, sink_port, args.workers)
    lines = Lines()
    reader = threading.Thread(target=lines.read, args=(server.stdout,), daemon=True)
    reader.start()
    try:
        wait_ready(server, port, "/health")
        peak = _wrk(port, args.peak_seconds, args.connections, 0)
        delay_ms = _pace(port, args.connections, peak.rps * args.load)
        rss: dict[int, list[Any]] = {}
        stop_at = time.monotonic() + args.duration
        sampler = threading.Thread(target=_sample_rss, args=(server.pid, stop_at, 5.0, rss))
        prober = soakprobe.Prober(port, stop_at)
        sampler.start()
        prober.start()
        load = _wrk(port, args.duration, args.connections, delay_ms)
        sampler.join()
        prober.join()
        time.sleep(3)  # the last spans leave with the next batch (500 ms) or at exit
        counted = _counted(port)
    finally:
        stop(server)
        reader.join(30)
    spans = _sink_stats(sink_port)["spans"]
    stop(sink)
    warm = args.duration * args.warmup
    return {
        "duration_s": args.duration,
        "workers": args.workers,
        "peak": dataclasses.asdict(peak),
        "load": dataclasses.asdict(load),
        "load_of_peak": round(load.rps / peak.rps, 3) if peak.rps else None,
        "prober": prober.report(),
        "rss": {
            str(pid): {
                "first_kib": series[0][1],
                "last_kib": series[-1][1],
                "slope_kib_per_min_after_warmup": round(
                    slope_kib_per_min([s for s in series if s[0] >= warm]), 1
                ),
                "samples": series,
            }
            for pid, series in rss.items()
        },
        "books": {"lines": lines.exchanges, "counted": counted, "spans": spans},
        "invalid_lines": lines.invalid,
        "invalid_examples": lines.interleaved,
        "warning_lines": [line for line in lines.others if '"WARNING"' in line][:20],
        "error_lines": [line for line in lines.others if '"ERROR"' in line][:20],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=1800, help="seconds of paced load")
    parser.add_argument("--peak-seconds", type=int, default=15)
    parser.add_argument("--load", type=float, default=0.7, help="fraction of the measured peak")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=0.2, help="fraction left out of slopes")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    report = soak(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "soak.md").write_text(soakprobe.markdown(report))
    print((args.out / "soak.md").read_text())


if __name__ == "__main__":
    main()
