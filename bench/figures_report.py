"""The Markdown for bench/figures.py's measurements (the "figures" part of results.json)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.markdown import table

Figures = Mapping[str, Any]


def _cold_start(rows: list[Mapping[str, Any]]) -> list[str]:
    body = (
        [f"`{r.get('target', '?')}`", "failed: " + r["failure"], ""]
        if "failure" in r
        else [
            f"`{r['target']}`",
            f"{r['median_s']:.2f}",
            ", ".join(f"{s:.2f}" for s in r["samples_s"]),
        ]
        for r in rows
    )
    return [
        "**Cold start**: exec of the server command to the first 200 on its ready path"
        " (`/health` for echoscope; polled every 20 ms).",
        "",
        *table(["target", "median s", "samples s"], body),
        "",
    ]


def _memory(figure: Mapping[str, Any]) -> list[str]:
    if "failure" in figure:
        return [f"**RSS growth and /metrics scrape** failed: {figure['failure']}", ""]
    rss, scrape = figure["rss"], figure["scrape"]
    return [
        f"**RSS growth** of `{rss['target']}` ({rss['workers']} worker(s), master + workers) over"
        f" {rss['requests']} requests after warm-up: {rss['start_mib']:.1f} MiB →"
        f" {rss['end_mib']:.1f} MiB ({rss['growth_mib']:+.1f} MiB).",
        "",
        f"**/metrics scrape**: median {scrape['median_ms']:.2f} ms (max {scrape['max_ms']:.2f} ms)"
        f" over {scrape['scrapes']} scrapes of {scrape['samples']} samples in"
        f" {scrape['families']} metric families, {scrape['bytes']} bytes.",
        "",
    ]


def _signals(figure: Mapping[str, Any]) -> list[str]:
    if "failure" in figure:
        return [f"**Per-signal cost** failed: {figure['failure']}", ""]
    body = (
        [
            cost["kind"].upper(), cost["signal"], f"{cost['cost_us']:.0f}",
            f"`{cost['with']}` {cost['with_rps']:.0f}", f"`{cost['without']}`",
        ]
        for cost in figure["costs"]
    )  # fmt: skip
    lines = [
        "**Per-signal cost**: echoscope with a signal vs the same without it (logs:"
        " `ECHO_LOG_LEVEL=ERROR`, metrics: `ECHO_METRICS=false`, tracing: `OTEL_SDK_DISABLED=true`;"
        " unsampled: every request's traceparent says not sampled; Cloud Run profile: 1 in 100"
        " sampled). cost µs = 1e6/req/s(with) - 1e6/req/s(without): server time per request.",
        "",
        *table(["kind", "signal", "cost µs/request", "with (req/s)", "without"], body),
        "",
    ]
    return lines + [
        f"- `{f['target']}` round {f['round']} failed: {f['failure']}" for f in figure["failures"]
    ]


def figures_markdown(figures: Figures) -> list[str]:
    """The "Figures" section of results.md."""
    lines = ["## Figures", ""]
    if "skipped" in figures:
        return [*lines, f"Skipped: {figures['skipped']}.", ""]
    lines.append(f"{figures['workers']} worker(s) x {figures['threads']} threads.")
    lines.append("")
    lines += _cold_start(figures["cold_start"])
    lines += _memory(figures["memory_and_scrape"])
    lines += _signals(figures["signals"])
    return lines
