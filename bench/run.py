"""The main benchmark: every target, every worker count, interleaved rounds -> bench/results/.

Run through bench/run.sh (it prepares wrk and the virtual environments):
`bash bench/run.sh [--rounds N] [--duration S] [--workers "1 2"] [--targets "bare httpbin"]`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import machine, measure, options, report, servers, stats, targets


def _clear_logs(out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.log"):
        old.unlink()
    return out_dir


def _runnable(chosen: Sequence[targets.Target]) -> tuple[list[targets.Target], dict[str, str]]:
    ready, skipped = [], {}
    for target in chosen:
        reason = target.missing()
        if reason:
            skipped[target.name] = reason
        else:
            ready.append(target)
    return ready, skipped


def _series(
    chosen: Sequence[targets.Target], opts: options.Options, workers: int, site: measure.Site
) -> dict[str, Any]:
    plan = measure.Plan(
        rounds=opts.rounds, duration=opts.duration, warmup=opts.warmup, workers=workers,
        threads=opts.threads, connections=opts.connections, wrk_threads=opts.wrk_threads,
    )  # fmt: skip
    samples = measure.measure(chosen, plan, site)
    summary = stats.add_ratios(stats.summarize(samples), targets.REFERENCES)
    off = targets.ECHOSCOPE_OFF.name
    tax = stats.telemetry_tax(summary, targets.ECHOSCOPE_FULL.name, off)
    return {
        "workers": workers,
        "summary": summary,
        "tax": tax,
        "tax_cloud_run": stats.telemetry_tax(summary, targets.ECHOSCOPE_CLOUD_RUN.name, off),
        "failures": stats.failures(samples),
        "samples": samples,
    }


def header(opts: options.Options, chosen: Sequence[targets.Target]) -> dict[str, Any]:
    """What every results file starts with: machine, versions, options, targets."""
    return {
        "machine": machine.describe(),
        "versions": {
            "echoscope (bench/.venv-service)": machine.versions(
                targets.PROJECT_PYTHON, machine.ECHOSCOPE_PACKAGES
            ),
            "peers (bench/.venv-peers)": machine.versions(
                targets.PEERS_PYTHON, machine.PEERS_PACKAGES
            ),
        },
        "options": {key: value for key, value in vars(opts).items() if key != "out_dir"},
        "targets": {target.name: target.description for target in chosen},
    }


def main(argv: Sequence[str]) -> int:
    """Measure, then write results.json, results.md and results.png."""
    opts = options.parse(argv, os.environ)
    servers.install_cleanup()
    chosen, skipped = _runnable(targets.select(opts.targets))
    for name, reason in skipped.items():
        print(f"skipping {name}: {reason}", file=sys.stderr)
    out_dir = _clear_logs(opts.out_dir)
    results = header(opts, chosen) | {"skipped": skipped, "runs": []}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="echoscope-bench-") as scratch,
            measure.sink(out_dir) as sink_port,
        ):
            site = measure.Site(sink_port=sink_port, log_dir=out_dir, scratch=Path(scratch))
            for workers in opts.workers:
                results["runs"].append(_series(chosen, opts, workers, site))
    finally:
        servers.stop_all()
    report.write(results, out_dir)
    print(f"wrote {out_dir / 'results.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
