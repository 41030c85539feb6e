"""Reductions over samples: medians across rounds, ratios, telemetry tax, per-signal cost."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any

Row = dict[str, Any]
_MEDIANS = ("rps", "p50_ms", "p99_ms")


def _key(sample: Mapping[str, Any]) -> tuple[int, str, str]:
    return (sample["workers"], sample["kind"], sample["target"])


def summarize(samples: Iterable[Mapping[str, Any]]) -> list[Row]:
    """One row per (workers, kind, target): medians across rounds, errors summed, failed starts counted."""
    groups: dict[tuple[int, str, str], list[Mapping[str, Any]]] = {}
    for sample in samples:
        if "failure" not in sample:
            groups.setdefault(_key(sample), []).append(sample)
    rows = []
    for (workers, kind, target), group in groups.items():
        row: Row = {"workers": workers, "kind": kind, "target": target, "rounds": len(group)}
        row |= {name: statistics.median(s[name] for s in group) for name in _MEDIANS}
        row["rps_min"] = min(s["rps"] for s in group)
        row["rps_max"] = max(s["rps"] for s in group)
        row["errors"] = sum(s["errors"] for s in group)
        row["requests"] = sum(s["requests"] for s in group)
        row["sink_exports"] = sum(s.get("sink_exports", 0) for s in group)
        rows.append(row)
    return rows


def failures(samples: Iterable[Mapping[str, Any]]) -> list[Row]:
    """The starts that failed, as recorded."""
    return [dict(sample) for sample in samples if "failure" in sample]


def _rps(rows: Iterable[Row], workers: int, kind: str, target: str) -> float | None:
    for row in rows:
        if _key(row) == (workers, kind, target):
            return float(row["rps"])
    return None


def add_ratios(rows: list[Row], references: Iterable[str]) -> list[Row]:
    """Add `vs_<reference>` = rps / reference's rps in the same workers and kind (None if absent)."""
    for reference in references:
        for row in rows:
            base = _rps(rows, row["workers"], row["kind"], reference)
            row[f"vs_{reference}"] = row["rps"] / base if base else None
    return rows


def telemetry_tax(rows: list[Row], full: str, off: str) -> list[Row]:
    """tax = 1 - rps(full telemetry) / rps(telemetry off): the share of throughput telemetry costs."""
    taxes = []
    for workers, kind in sorted({(row["workers"], row["kind"]) for row in rows}):
        with_all = _rps(rows, workers, kind, full)
        without = _rps(rows, workers, kind, off)
        if with_all and without:
            taxes.append({"workers": workers, "kind": kind, "tax": 1 - with_all / without})
    return taxes


def signal_costs(rows: list[Row], pairs: Mapping[str, tuple[str, str]]) -> list[Row]:
    """cost_us = 1e6/rps(with) - 1e6/rps(without) per (signal: (with, without)): server time it adds."""
    costs = []
    for workers, kind in sorted({(row["workers"], row["kind"]) for row in rows}):
        for signal, (with_target, without_target) in pairs.items():
            with_it = _rps(rows, workers, kind, with_target)
            without = _rps(rows, workers, kind, without_target)
            if with_it and without:
                cost = 1e6 / with_it - 1e6 / without
                costs.append(
                    {"workers": workers, "kind": kind, "signal": signal, "cost_us": cost,
                     "with": with_target, "without": without_target, "with_rps": with_it}
                )  # fmt: skip
    return costs
