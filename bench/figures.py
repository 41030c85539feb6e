"""Companion figures for echoscope: cold start, RSS growth, /metrics scrape time, per-signal cost.

Appends a "figures" section to bench/results/results.json and re-renders results.md.
Run through bench/run.sh (after the main run) or alone: `python -m bench.figures [options]`.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from bench import coldstart, measure, options, report, run, servers, stats, targets, wrk

RSS_REQUESTS = 50_000
RSS_CHUNK_SECONDS = 2
RSS_MAX_CHUNKS = 200  # bounds the loop even if a server crawls
SCRAPES = 50
# Routes hit before scraping so that /metrics holds a realistic number of series.
VARIED_REQUESTS = (
    ("GET", "/"), ("GET", "/anything/a"), ("PUT", "/anything"), ("DELETE", "/anything"),
    ("PATCH", "/anything"), ("GET", "/status/201"), ("GET", "/status/404"), ("GET", "/status/500"),
    ("GET", "/status/503"), ("GET", "/delay/0"), ("OPTIONS", "/anything"), ("HEAD", "/anything"),
)  # fmt: skip
NO_TRACING = targets.echoscope("echoscope-no-tracing", "tracing off", {"OTEL_SDK_DISABLED": "true"})
UNSAMPLED = targets.echoscope(
    "echoscope-unsampled",
    "every traceparent unsampled",
    {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
    wrk.UNSAMPLED,
)
FULL, CLOUD_RUN, OFF = targets.ECHOSCOPE_FULL, targets.ECHOSCOPE_CLOUD_RUN, targets.ECHOSCOPE_OFF
# signal -> (the target with it, the same target without it)
SIGNALS = {
    "logs": (FULL, targets.echoscope("echoscope-no-logs", "logs off", {"ECHO_LOG_LEVEL": "ERROR"})),
    "metrics": (FULL, targets.echoscope("echoscope-no-metrics", "metrics off", {"ECHO_METRICS": "false"})),
    "tracing, sampled and exported": (FULL, NO_TRACING),
    "tracing, unsampled": (UNSAMPLED, NO_TRACING),
    "metrics and logs also over OTLP": (targets.ECHOSCOPE_OTLP, FULL),
    "metrics over OTLP": (
        targets.echoscope(
            "echoscope-otlp-metrics",
            "OTLP metrics on",
            {"OTEL_METRICS_EXPORTER": "prometheus,otlp", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/json"},
        ),
        FULL,
    ),
    "log records over OTLP": (
        targets.echoscope(
            "echoscope-otlp-logs",
            "OTLP logs on",
            {"OTEL_LOGS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json"},
        ),
        FULL,
    ),
    "all three, every request sampled": (FULL, OFF),
    "all three, Cloud Run profile (1 in 100 sampled)": (CLOUD_RUN, OFF),
}  # fmt: skip


def _slot(site: measure.Site, workers: int, threads: int) -> targets.Slot:
    return targets.Slot(servers.free_port(), workers, threads, site.sink_port, site.scratch)


def _rss_mib(pid: int, workers_only: bool = False) -> float:
    master = psutil.Process(pid)
    processes = [*([] if workers_only else [master]), *master.children(recursive=True)]
    return float(sum(process.memory_info().rss for process in processes)) / 2**20


def rss_growth(pid: int, port: int, opts: options.Options) -> dict[str, Any]:
    """RSS of master + workers, sampled between wrk chunks, until RSS_REQUESTS have been served."""
    served, points = 0, [(0, _rss_mib(pid))]
    for chunk in range(RSS_MAX_CHUNKS):
        if served >= RSS_REQUESTS:
            break
        kind = wrk.KINDS[chunk % len(wrk.KINDS)]
        result, _ = wrk.run(port, kind, RSS_CHUNK_SECONDS, opts.connections, opts.wrk_threads)
        served += result.requests
        points.append((served, _rss_mib(pid)))
    start, end = points[0][1], points[-1][1]
    return {
        "workers_end_mib": _rss_mib(pid, workers_only=True),
        "requests": served,
        "start_mib": start,
        "end_mib": end,
        "growth_mib": end - start,
        "points": points,
    }


def _request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[float, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        began = time.perf_counter()
        connection.request(method, path, headers=headers or {})
        body = connection.getresponse().read()
        return time.perf_counter() - began, body
    finally:
        connection.close()


def scrape_time(port: int) -> dict[str, Any]:
    """Median wall time of one GET /metrics (new connection each), after varied traffic."""
    for method, path in VARIED_REQUESTS:
        _request(port, method, path)
    timings, body = [], b""
    for _ in range(SCRAPES):
        elapsed, body = _request(port, "GET", "/metrics")
        timings.append(elapsed * 1000)
    lines = body.decode(errors="replace").splitlines()
    return {
        "scrapes": SCRAPES,
        "median_ms": statistics.median(timings),
        "max_ms": max(timings),
        "samples": sum(1 for line in lines if line and not line.startswith("#")),
        "families": sum(1 for line in lines if line.startswith("# TYPE ")),
        "bytes": len(body),
    }


def memory_and_scrape(site: measure.Site, opts: options.Options) -> dict[str, Any]:
    """One echoscope-full start: RSS growth over RSS_REQUESTS requests, then the scrape timing."""
    slot = _slot(site, opts.workers[0], opts.threads)
    launch = targets.ECHOSCOPE_FULL.launch(slot)
    with servers.running(launch, slot.port, site.log_dir / "figures-echoscope-full.log") as process:
        if opts.warmup:
            wrk.run(slot.port, "get", opts.warmup, opts.connections, opts.wrk_threads)
        rss = rss_growth(process.pid, slot.port, opts) | {
            "target": targets.ECHOSCOPE_FULL.name,
            "workers": slot.workers,
        }
        return {"rss": rss, "scrape": scrape_time(slot.port)}


def signal_costs(site: measure.Site, opts: options.Options) -> dict[str, Any]:
    """Interleaved rounds of every target of SIGNALS; cost = 1e6/rps(with) - 1e6/rps(without)."""
    chosen = list({t.name: t for pair in SIGNALS.values() for t in pair}.values())
    plan = measure.Plan(
        rounds=opts.rounds, duration=opts.duration, warmup=opts.warmup, workers=opts.workers[0],
        threads=opts.threads, connections=opts.connections, wrk_threads=opts.wrk_threads,
    )  # fmt: skip
    samples = measure.measure(chosen, plan, site)
    summary = stats.summarize(samples)
    pairs = {signal: (with_it.name, without.name) for signal, (with_it, without) in SIGNALS.items()}
    costs = stats.signal_costs(summary, pairs)
    return {
        "summary": summary,
        "costs": costs,
        "failures": stats.failures(samples),
        "samples": samples,
    }


def _load(path: Path, opts: options.Options) -> dict[str, Any]:
    if path.exists():
        return dict(json.loads(path.read_text()))
    return run.header(opts, targets.select(opts.targets)) | {"runs": []}


def _attempt(measure_one: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return measure_one()
    except (servers.ServerError, wrk.WrkError, OSError) as error:
        return {"failure": str(error)}


def collect(site: measure.Site, opts: options.Options) -> dict[str, Any]:
    """Every figure, in a fixed order; one that fails is recorded as such and the rest go on."""
    figures: dict[str, Any] = {"workers": opts.workers[0], "threads": opts.threads}
    startable = coldstart.startable(targets.select(opts.targets))
    figures["cold_start"] = _attempt(
        lambda: {"rows": coldstart.measure_all(startable, site, opts.workers[0], opts.threads)}
    )
    figures["memory_and_scrape"] = _attempt(lambda: memory_and_scrape(site, opts))
    figures["signals"] = _attempt(lambda: signal_costs(site, opts))
    return figures


def main(argv: Sequence[str]) -> int:
    """Measure the figures and add them to results.json / results.md."""
    opts = options.parse(argv, os.environ)
    servers.install_cleanup()
    reason = targets.ECHOSCOPE_FULL.missing()
    results = _load(opts.out_dir / "results.json", opts)
    if reason:
        results["figures"] = {"skipped": reason}
    else:
        try:
            with (
                tempfile.TemporaryDirectory(prefix="echoscope-figures-") as scratch,
                measure.sink(opts.out_dir) as sink_port,
            ):
                site = measure.Site(
                    sink_port=sink_port, log_dir=opts.out_dir, scratch=Path(scratch)
                )
                results["figures"] = collect(site, opts)
        finally:
            servers.stop_all()
    results["machine"]["loadavg_at_end"] = [round(value, 2) for value in os.getloadavg()]
    report.write(results, opts.out_dir)
    print(f"figures added to {opts.out_dir / 'results.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
