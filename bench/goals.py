"""The goals of the performance issue, checked against one series of the main run."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from bench.markdown import table

Run = Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Goal:
    """One line of the goals table: a measured figure, its bound, and which side is good."""

    title: str
    figure: Callable[[Run, str], float | None]
    bound: float
    at_least: bool
    percent: bool = False

    def cell(self, run: Run, kind: str) -> str:
        value = self.figure(run, kind)
        if value is None:
            return "—"
        met = value >= self.bound if self.at_least else value <= self.bound
        text = f"{value:.0%}" if self.percent else f"{value:.2f}x"
        return f"{text} {'met' if met else 'MISSED'}"


def _row(run: Run, kind: str, target: str) -> Mapping[str, Any] | None:
    for row in run["summary"]:
        if row["kind"] == kind and row["target"] == target:
            return row
    return None


def _ratio(target: str, reference: str, field: str = "rps") -> Callable[[Run, str], float | None]:
    def figure(run: Run, kind: str) -> float | None:
        mine, theirs = _row(run, kind, target), _row(run, kind, reference)
        return mine[field] / theirs[field] if mine and theirs and theirs[field] else None

    return figure


GOALS = (
    Goal("full telemetry vs httpbin (goal >= 0.75x)", _ratio("echoscope-full", "httpbin"), 0.75, True),
    Goal("full telemetry vs DIY stack (goal >= 1.5x)", _ratio("echoscope-full", "diy"), 1.5, True),
    Goal(
        "full telemetry p99 / httpbin p99 (goal <= 1.5x)",
        _ratio("echoscope-full", "httpbin", "p99_ms"), 1.5, False,
    ),
    Goal("Cloud Run profile vs httpbin (goal >= 0.9x)", _ratio("echoscope-cloudrun", "httpbin"), 0.9, True),
    Goal("telemetry off vs httpbin (goal >= 1.3x)", _ratio("echoscope-off", "httpbin"), 1.3, True),
)  # fmt: skip


def goals_markdown(run: Run, kinds: tuple[str, ...]) -> list[str]:
    """The goals table of one series: every goal, per request kind, met or missed."""
    rows = ([goal.title, *(goal.cell(run, kind) for kind in kinds)] for goal in GOALS)
    return [*table(["goal", *(kind.upper() for kind in kinds)], rows), ""]
