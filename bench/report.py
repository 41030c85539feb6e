"""Write results.json, results.md and results.png from one results dictionary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

from bench.figures_report import figures_markdown
from bench.goals import goals_markdown
from bench.markdown import num as _num
from bench.markdown import table as _table

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after matplotlib.use

Results = Mapping[str, Any]
KIND_TITLES = {
    "get": "GET /anything (browser headers, cookie, traceparent)",
    "post": "POST /anything (1 KiB JSON)",
}


def _method(results: Results) -> list[str]:
    o, m = results["options"], results["machine"]
    return [
        f"Date: {m['date']}. Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB,"
        f" Linux {m['kernel']}; {m['wrk']}. Load average before the run:"
        f" {', '.join(str(v) for v in m.get('loadavg_at_start', []))}; after the figures:"
        f" {', '.join(str(v) for v in m.get('loadavg_at_end', [])) or 'not taken'}"
        " (anything else running skews the numbers).",
        "",
        f"Each target runs alone on 127.0.0.1 under gunicorn `--workers W --threads {o['threads']}"
        " --worker-class gthread --keep-alive 5` (echoscope: the same through its own"
        " `config/gunicorn.conf.py`). After a"
        f" {o['warmup']} s warm-up, `wrk -t{o['wrk_threads']} -c{o['connections']} -d{o['duration']}s"
        " --latency` runs once per request kind. Rounds are interleaved (every target in turn,"
        f" restarted each round), {o['rounds']} round(s); numbers are medians across rounds.",
        "Errors = non-2xx/3xx answers + socket errors (connect, read, write, timeout), summed over rounds.",
        "Telemetry tax = 1 - req/s(echoscope-full) / req/s(echoscope-off); Cloud Run profile tax:"
        " the same with echoscope-cloudrun.",
        "",
    ]


def _targets(results: Results) -> list[str]:
    rows = ([f"`{name}`", text] for name, text in results["targets"].items())
    skipped = [f"- `{name}` skipped: {why}" for name, why in results.get("skipped", {}).items()]
    return ["## Targets", "", *_table(["target", "what"], rows), "", *skipped, ""]


def _kind_table(summary: list[Mapping[str, Any]], kind: str) -> list[str]:
    rows = (
        [
            f"`{r['target']}`", f"{r['rps']:.0f}", f"{r['rps_min']:.0f}-{r['rps_max']:.0f}",
            f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", str(r["errors"]),
            _num(r.get("vs_httpbin"), "{:.2f}x"), _num(r.get("vs_bare"), "{:.2f}x"),
            str(r.get("sink_exports", 0)),
        ]
        for r in summary if r["kind"] == kind
    )  # fmt: skip
    header = [
        "target",
        "req/s",
        "min-max",
        "p50 ms",
        "p99 ms",
        "errors",
        "vs httpbin",
        "vs bare",
        "OTLP exports",
    ]
    return [f"**{KIND_TITLES[kind]}**", "", *_table(header, rows), ""]


def _run(run: Mapping[str, Any]) -> list[str]:
    lines = [f"## {run['workers']} worker(s)", ""]
    lines += goals_markdown(run, tuple(KIND_TITLES))
    for kind in KIND_TITLES:
        lines += _kind_table(run["summary"], kind)
    for tax in run["tax"]:
        lines.append(f"- telemetry tax, {tax['kind'].upper()}: {tax['tax']:.1%}")
    for tax in run.get("tax_cloud_run", []):
        lines.append(f"- Cloud Run profile tax, {tax['kind'].upper()}: {tax['tax']:.1%}")
    for failure in run["failures"]:
        lines.append(
            f"- round {failure['round']}, `{failure['target']}` failed: {failure['failure']}"
        )
    return [*lines, ""]


def _versions(results: Results) -> list[str]:
    venvs = results["versions"]
    names = sorted({name for versions in venvs.values() for name in versions})
    rows = ([name, *(str(venvs[v].get(name) or "—") for v in venvs)] for name in names)
    return ["## Versions", "", *_table(["package", *venvs], rows), ""]


def markdown(results: Results) -> str:
    """The whole results.md: method, targets, one section per worker count, figures, versions."""
    lines = ["# echoscope benchmark", "", *_method(results), "![req/s per target](results.png)", ""]
    lines += _targets(results)
    for run in results.get("runs", []):
        lines += _run(run)
    if "figures" in results:
        lines += figures_markdown(results["figures"])
    lines += _versions(results)
    return "\n".join(lines)


def _plot_run(axis: Any, run: Mapping[str, Any]) -> None:
    summary = run["summary"]
    targets = list(dict.fromkeys(r["target"] for r in summary))
    width = 0.8 / len(KIND_TITLES)
    for offset, kind in enumerate(KIND_TITLES):
        rows = {r["target"]: r for r in summary if r["kind"] == kind}
        xs = [i + (offset - 0.5) * width for i, t in enumerate(targets) if t in rows]
        picked = [rows[t] for t in targets if t in rows]
        heights = [r["rps"] for r in picked]
        spread = [
            [r["rps"] - r["rps_min"] for r in picked],
            [r["rps_max"] - r["rps"] for r in picked],
        ]
        bars = axis.bar(xs, heights, width, yerr=spread, capsize=3, label=kind.upper())
        axis.bar_label(bars, fmt="%.0f", fontsize=7, padding=2)
    axis.set_xticks(range(len(targets)), targets, rotation=20, fontsize=8)
    axis.set_title(f"{run['workers']} worker(s)")
    axis.set_ylabel("req/s (median, bars: min-max)")
    axis.legend(fontsize=8)


def chart(results: Results, path: Path) -> None:
    """Grouped bars of req/s per target and kind, one panel per worker count."""
    runs = results["runs"]
    figure, axes = plt.subplots(1, len(runs), figsize=(6.5 * len(runs), 4.5), squeeze=False)
    for axis, run in zip(axes[0], runs, strict=True):
        _plot_run(axis, run)
    figure.suptitle(f"echoscope vs peers, {results['machine']['nproc']} CPUs, wrk on 127.0.0.1")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write(results: Results, out_dir: Path) -> None:
    """results.json (everything, raw samples included), results.md and results.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "results.md").write_text(markdown(results) + "\n")
    if results.get("runs"):
        chart(results, out_dir / "results.png")
