"""Durations as go-httpbin reads them: Go's `1.5s`, `100ms`, `1m30s`, or plain seconds."""

from __future__ import annotations

import math
import re

from werkzeug.exceptions import BadRequest

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_DURATION = re.compile(rf"(?:{_PART.pattern})+")
_PLAIN_SECONDS = re.compile(r"\d+(?:\.\d*)?|\.\d+")


def seconds(raw: str) -> float | None:
    """The duration in seconds, or None when `raw` is neither a Go duration nor seconds."""
    if _PLAIN_SECONDS.fullmatch(raw):
        return float(raw)
    if raw == "0" or _GO_DURATION.fullmatch(raw):
        return sum(float(number) * _UNITS[unit] for number, unit in _PART.findall(raw))
    return None


def bounded(raw: str, name: str, cap: float) -> float:
    """Seconds from 0 to `cap`, or a 400 naming `name`: a duration past its cap is refused."""
    value = seconds(raw)
    if value is None or not math.isfinite(value):
        raise BadRequest(f"{name} must be a duration like 1.5, 1.5s or 100ms, got {raw[:64]!r}")
    if value > cap:
        raise BadRequest(f"{name} {raw[:64]!r} is longer than the maximum of {cap:g}s")
    return value
