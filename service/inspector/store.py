"""The inspector's history: what a store keeps of each exchange, and how it is asked for.

An exchange is kept as what its log line holds (redacted, bounded), plus its
status, latency and trace ids, as one JSON document. Two stores implement
`Store`: SQLite shared by one instance's workers (`history_sqlite`) and Redis
shared by every instance (`history_redis`). Both keep at most `size` exchanges,
none older than `MAX_AGE_SECONDS`, and hand out a cursor that only grows.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

import orjson

from service.exchange.outcome import Outcome
from service.telemetry.logs import ExchangeLine

MAX_AGE_SECONDS = 3600
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
_HEX32 = re.compile(r"[0-9a-f]{32}")
_METHOD = re.compile(r"[A-Z0-9!#$%&'*+.^_`|~-]{1,32}")


class StoreError(Exception):
    """The store did not answer (down, locked, unreachable): never a request's failure."""


@dataclasses.dataclass(frozen=True, slots=True)
class Stored:
    """One exchange as a store keeps it: the fields it filters on and the JSON document."""

    uuid: str
    time: float  # seconds since the epoch, when the exchange finished
    method: str
    path: str
    status: int
    trace_id: str
    document: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Found:
    """One stored exchange and its cursor (the SSE event id)."""

    cursor: str
    document: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class Filters:
    """What `GET /_echoscope/exchanges` asks for; every given filter must match."""

    trace_id: str | None = None
    uuid: str | None = None
    status: int | None = None
    method: str | None = None
    path: str | None = None  # a prefix
    limit: int = DEFAULT_LIMIT


class Store(Protocol):
    """Where the history lives. Every method raises StoreError when the store fails."""

    def add(self, exchanges: Sequence[Stored]) -> None: ...

    def find(self, filters: Filters) -> list[Found]: ...

    def get(self, uuid: str) -> Found | None: ...

    def after(self, cursor: str, limit: int) -> list[Found]: ...

    def latest(self) -> str: ...

    def valid_cursor(self, cursor: str) -> bool: ...

    def clear(self) -> None: ...


def parse_filters(args: Mapping[str, str]) -> Filters:
    """The filters of a query string; ValueError naming the parameter when one is bad."""
    return Filters(
        trace_id=_matching(args, "trace_id", _HEX32, "32 lowercase hex digits"),
        uuid=_matching(args, "uuid", _HEX32, "32 lowercase hex digits"),
        status=_number(args, "status", 100, 599),
        method=_matching(args, "method", _METHOD, "an HTTP method", str.upper),
        path=_path(args),
        limit=_number(args, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT,
    )


def is_uuid(text: str) -> bool:
    """True for an exchange id: 32 lowercase hex digits."""
    return _HEX32.fullmatch(text) is not None


def stored(outcome: Outcome, line: ExchangeLine) -> Stored:
    """What the history keeps of a finished exchange."""
    finished = time.time()
    trace = outcome.trace
    entry = {
        "uuid": outcome.request_id,
        "time": datetime.fromtimestamp(finished, UTC).isoformat(timespec="milliseconds"),
        "method": line.request["method"],
        "path": line.request["path"],
        "route": outcome.route,
        "status": outcome.status,
        "latency_ms": round(outcome.elapsed * 1000, 3),
        "trace_id": trace.trace_id if trace else None,
        "span_id": trace.span_id if trace else None,
        "sampled": trace.sampled if trace else None,
        "message": line.message,
        "httpRequest": line.http_request,
        "request": orjson.Fragment(line.encoded_request),
        "response": line.response,
    }
    if line.calls:
        entry["calls"] = line.calls
    if line.websocket:
        entry["websocket"] = line.websocket
    return Stored(
        outcome.request_id,
        finished,
        entry["method"],
        entry["path"],
        outcome.status,
        entry["trace_id"] or "",
        orjson.dumps(entry),  # bounded: the log line's parts are (service/telemetry/logbounds.py)
    )


def _matching(
    args: Mapping[str, str],
    name: str,
    pattern: re.Pattern[str],
    what: str,
    normal: Callable[[str], str] = str.lower,
) -> str | None:
    raw = args.get(name)
    if not raw:
        return None
    value = normal(raw)
    if not pattern.fullmatch(value):
        raise ValueError(f"{name} must be {what}")
    return value


def _number(args: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = args.get(name)
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
        raise ValueError(f"{name} must be an integer from {low} to {high}")
    return int(raw)


def _path(args: Mapping[str, str]) -> str | None:
    raw = args.get("path")
    if not raw:
        return None
    if not raw.startswith("/") or len(raw) > 2048:
        raise ValueError("path must start with / (and be at most 2048 characters)")
    return raw
