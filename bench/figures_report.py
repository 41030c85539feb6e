"""The Markdown for bench/figures.py's measurements (the "figures" part of results.json)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.markdown import table

Figures = Mapping[str, Any]


COLD_START_GOAL = 1.3  # x httpbin's exec -> first 200
RSS_GOAL_MIB = 10.0  # MiB over httpbin's workers


def _cold_start_row(row: Mapping[str, Any], httpbin: Mapping[str, Any] | None) -> list[str]:
    ratio = f"{row['median_s'] / httpbin['median_s']:.2f}x" if httpbin else "—"
    over = f"{row['worker_rss_mib'] - httpbin['worker_rss_mib']:+.1f}" if httpbin else "—"
    if httpbin and row["target"].startswith("echoscope"):
        met = row["median_s"] <= COLD_START_GOAL * httpbin["median_s"]
        ratio += " met" if met else " MISSED"
        fits = row["worker_rss_mib"] - httpbin["worker_rss_mib"] <= RSS_GOAL_MIB
        over += " met" if fits else " MISSED"
    samples = ", ".join(f"{s:.2f}" for s in row["samples_s"])
    median, rss = f"{row['median_s']:.2f}", f"{row['worker_rss_mib']:.1f}"
    return [f"`{row['target']}`", median, ratio, rss, over, samples]


def _cold_start(figure: Mapping[str, Any]) -> list[str]:
    if "failure" in figure:
        return [f"**Cold start** failed: {figure['failure']}", ""]
    rows = figure["rows"]
    httpbin = next((row for row in rows if row["target"] == "httpbin"), None)
    head = ["target", "median s", "vs httpbin (goal <= 1.3x)", "worker RSS MiB"]
    head += ["RSS - httpbin's (goal <= +10)", "samples s"]
    return [
        "**Cold start**: exec of the server command to the first 200 on its ready path"
        " (`/health` for echoscope, `/get` for httpbin; polled every 20 ms), the targets"
        " started in turn 7 times (`python -m bench.coldstart`); worker RSS: the workers'"
        " resident memory at that first 200, median. `floor-start` is echoscope's libraries"
        " alone, set up as their documentation shows behind one Flask route"
        " (`bench/peers/floorstart.py`, on echoscope's packages, stock gunicorn).",
        "",
        *table(head, (_cold_start_row(row, httpbin) for row in rows)),
        "",
        *_floor_sentence(rows, httpbin),
    ]


def _floor_sentence(rows: list[Mapping[str, Any]], httpbin: Mapping[str, Any] | None) -> list[str]:
    """The floor's share of echoscope's start, when both and httpbin were measured."""
    floor = next((row for row in rows if row["target"] == "floor-start"), None)
    full = next((row for row in rows if row["target"] == "echoscope-full"), None)
    if floor is None or full is None or httpbin is None:
        return []
    own = full["median_s"] - floor["median_s"]
    return [
        f"The libraries alone start in {floor['median_s']:.2f} s,"
        f" {floor['median_s'] / httpbin['median_s']:.2f}x httpbin's start; echoscope-full"
        f" takes {own:+.2f} s beside them: its settings, modules, routes and telemetry set-up,"
        " less what its start-up saves (modules imported before fork, the cyclic collector"
        " off until the app is loaded). `start.md` (`python -m bench.startprofile`) splits"
        " each start line by line.",
        "",
    ]


def _memory(figure: Mapping[str, Any]) -> list[str]:
    if "failure" in figure:
        return [f"**RSS growth and /metrics scrape** failed: {figure['failure']}", ""]
    rss, scrape = figure["rss"], figure["scrape"]
    return [
        f"**RSS growth** of `{rss['target']}` ({rss['workers']} worker(s), master + workers) over"
        f" {rss['requests']} requests after warm-up: {rss['start_mib']:.1f} MiB →"
        f" {rss['end_mib']:.1f} MiB ({rss['growth_mib']:+.1f} MiB); the workers alone at the end"
        f" (steady state, the OTLP exporter loaded): {rss.get('workers_end_mib', 0):.1f} MiB.",
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
