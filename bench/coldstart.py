"""Cold start: exec of the server command to its first 200, and its workers' RSS at that moment.

`python -m bench.coldstart [--targets "echoscope-full httpbin diy"] [--workers 1]` (with
bench/.venv-peers' python, from the project root) starts each target COLD_STARTS times in
turn (interleaved, so drift hits every target alike) and prints the median seconds and the
median RSS of its workers, which is what a scale-from-zero waits for and what each instance
costs. Beside the chosen targets it always starts `floor-start` (bench/peers/floorstart.py):
echoscope's libraries alone, the floor its own start is measured against. bench/figures.py
runs the same measurement for results.md.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

from bench import measure, options, servers, targets

COLD_STARTS = 7
DEFAULT_TARGETS = ("echoscope-full", "echoscope-off", "httpbin", "diy")


def _workers_rss_mib(pid: int) -> float:
    """RSS of the master's children (gunicorn's workers), MiB."""
    children = psutil.Process(pid).children(recursive=True)
    return float(sum(child.memory_info().rss for child in children)) / 2**20


def once(target: targets.Target, slot: targets.Slot, log_dir: Path) -> tuple[float, float]:
    """One cold start: (seconds to the first 200 on the ready path, workers' RSS MiB then)."""
    launch = target.launch(slot)
    began = time.perf_counter()
    process = servers.start(launch, log_dir / f"coldstart-{target.name}.log")
    try:
        servers.wait_ready(process, slot.port, launch.ready_path)
        seconds = time.perf_counter() - began
        return seconds, _workers_rss_mib(process.pid)
    finally:
        servers.stop(process)


def startable(chosen: Sequence[targets.Target]) -> list[targets.Target]:
    """The chosen targets and the start-only floor, those that can start here."""
    return [target for target in (*chosen, *targets.START_ONLY) if target.missing() is None]


def measure_all(
    chosen: Sequence[targets.Target], site: measure.Site, workers: int, threads: int
) -> list[dict[str, Any]]:
    """COLD_STARTS interleaved starts of every target; medians and samples per target."""
    samples: dict[str, list[tuple[float, float]]] = {target.name: [] for target in chosen}
    for _ in range(COLD_STARTS):
        for target in chosen:
            slot = targets.Slot(servers.free_port(), workers, threads, site.sink_port, site.scratch)
            samples[target.name].append(once(target, slot, site.log_dir))
    return [
        {
            "target": target.name,
            "path": target.launch(
                targets.Slot(0, workers, threads, site.sink_port, site.scratch)
            ).ready_path,
            "median_s": statistics.median(s for s, _ in samples[target.name]),
            "samples_s": [s for s, _ in samples[target.name]],
            "worker_rss_mib": statistics.median(r for _, r in samples[target.name]),
        }
        for target in chosen
    ]


def main(argv: Sequence[str]) -> int:
    """Print the cold-start table for the chosen targets."""
    opts = options.parse(argv, {"BENCH_TARGETS": " ".join(DEFAULT_TARGETS), "BENCH_WORKERS": "1"})
    chosen = startable(targets.select(opts.targets))
    servers.install_cleanup()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="echoscope-coldstart-") as scratch,
            measure.sink(opts.out_dir) as sink_port,
        ):
            site = measure.Site(sink_port=sink_port, log_dir=opts.out_dir, scratch=Path(scratch))
            rows = measure_all(chosen, site, opts.workers[0], opts.threads)
    finally:
        servers.stop_all()
    print("| target | median s | worker RSS MiB | samples s |\n|---|---|---|---|")
    for row in rows:
        samples = ", ".join(f"{s:.2f}" for s in row["samples_s"])
        print(
            f"| `{row['target']}` | {row['median_s']:.2f} | {row['worker_rss_mib']:.1f} | {samples} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
