"""Tiny Markdown helpers shared by the report writers."""

from __future__ import annotations

from collections.abc import Iterable


def num(value: float | None, fmt: str = "{:.2f}") -> str:
    """A formatted number, or an em dash when there is none."""
    return "—" if value is None else fmt.format(value)


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    """A GitHub-flavoured Markdown table as a list of lines."""
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]
