"""The fields every line carries, as one structlog processor: severity, time, trace, stack trace.

No Flask here: gunicorn's master imports this (through `logconfig`) to render its
own lines, and the workers render the exchange line with the same pieces.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from service.exchange import traceids

TRACE = "logging.googleapis.com/trace"
SPAN = "logging.googleapis.com/spanId"
SAMPLED = "logging.googleapis.com/trace_sampled"
LABELS = "logging.googleapis.com/labels"
_SEVERITY = {
    "debug": "DEBUG",
    "info": "INFO",
    "notice": "NOTICE",
    "warning": "WARNING",
    "warn": "WARNING",
    "error": "ERROR",
    "exception": "ERROR",
    "critical": "CRITICAL",
}
# A line's `service.exchange.traceids.TraceIds`, when its writer has them already (the
# exchange line: read once when the exchange began, in the span the line is written in).
TRACE_IDS = "echoscope.trace_ids"
_LABELS = {"instance_id": "instanceId", "region": "region", "project": "project"}
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class CloudTraceFields:
    """The fields every line carries, as one processor: `severity`, `time`, the trace
    correlation fields, Cloud Logging's labels, and an exception's `stack_trace`.

    `time` is now in UTC, RFC 3339 with microseconds, as structlog's
    `TimeStamper(fmt="iso", utc=True)` writes it (`2024-05-01T12:00:00.123456Z`, the
    fraction left out at a whole second); its date and time of day are formatted once a
    second.

    `trace_id`, `span_id` and `trace_flags` (hex) on every line written in a span,
    and Cloud Logging's own trace fields beside them.

    `logging.googleapis.com/trace` is written only as `projects/P/traces/T`:
    until the project is known the field is left out (a bare id correlates with
    nothing). The project is set once, possibly later, from the metadata thread.
    """

    def __init__(self) -> None:
        self._prefix = ""
        self._labels: dict[str, str] = {}
        self._lock = threading.Lock()
        self._second: tuple[int, str] = (-1, "")  # a second since the epoch, and its text

    def configure(self, labels: dict[str, str]) -> None:
        """Start afresh for one app: these labels, no project yet."""
        with self._lock:
            self._prefix, self._labels = "", dict(labels)

    def set_project(self, project: str) -> None:
        """The project is known: from now on lines carry `projects/P/traces/T`."""
        with self._lock:
            self._prefix = f"projects/{project}/traces/"

    def add_labels(self, labels: dict[str, str]) -> None:
        """Labels learnt later (Cloud Run's instance id, region) join the configured ones."""
        with self._lock:
            self._labels = {**self._labels, **labels}

    def learn(self, facts: Mapping[str, str]) -> None:
        """Cloud facts (service.cloud.instance): the project, and the instance's labels."""
        if facts.get("project"):
            self.set_project(facts["project"])
        labels = {_LABELS[key]: value for key, value in facts.items() if key in _LABELS}
        if labels:
            self.add_labels(labels)

    @property
    def project(self) -> str | None:
        """The project set by `set_project`, or None while unknown."""
        return self._prefix.removeprefix("projects/").removesuffix("/traces/") or None

    def __call__(self, logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        event["severity"] = _SEVERITY.get(method, "DEFAULT")
        # Microseconds rounded down, as datetime.now() takes them from the same clock.
        second, micros = divmod(time.time_ns() // 1000, 1_000_000)
        last = self._second
        if last[0] != second:
            last = self._second = (second, _second_text(second))
        event["time"] = "%s.%06dZ" % (last[1], micros) if micros else last[1] + "Z"  # noqa: UP031
        # The exchange line brings the ids its exchange read; any other line reads them here.
        ids = event.pop(TRACE_IDS, None) or traceids.current()
        if ids is not None:
            # OpenTelemetry's trace context in non-OTLP log formats, project or not.
            event["trace_id"] = ids.trace_id
            event["span_id"] = ids.span_id
            event["trace_flags"] = "%02x" % ids.flags  # noqa: UP031
            if self._prefix:
                event[TRACE] = self._prefix + ids.trace_id
            event[SPAN] = ids.span_id
            event[SAMPLED] = ids.sampled
        if self._labels:
            event[LABELS] = self._labels
        if "exc_info" in event:
            add_stack_trace(logger, method, event)
        return event


def _second_text(second: int) -> str:
    m = time.gmtime(second)
    return (
        f"{m.tm_year:04d}-{m.tm_mon:02d}-{m.tm_mday:02d}"
        f"T{m.tm_hour:02d}:{m.tm_min:02d}:{m.tm_sec:02d}"
    )


# One per process: gunicorn's master builds the stdlib formatter with it before the
# workers fork, and each worker's app configures it (labels) and sets its project.
cloud_trace = CloudTraceFields()


def add_stack_trace(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """An exception's traceback as text in `stack_trace`, as Error Reporting reads it.

    Python's own format, without frame locals (they would carry the request's secrets).
    """
    exc_info = _exc_info(event.pop("exc_info", None))
    if exc_info is not None:
        event["stack_trace"] = "".join(traceback.format_exception(*exc_info))
        event.setdefault("error_type", exc_info[0].__name__)
    return event


def pre_chain() -> list[Processor]:
    """The processors every line goes through before the message is renamed and rendered."""
    return [structlog.contextvars.merge_contextvars, cloud_trace]


def message_renamer() -> Processor:
    """structlog's `event` becomes Cloud Logging's `message`."""
    return structlog.processors.EventRenamer("message")


def renderer(log_format: str) -> Processor:
    """orjson (bytes) for `json`, structlog's console renderer for `console`."""
    if log_format == "console":
        return structlog.dev.ConsoleRenderer(colors=False, event_key="message")
    return structlog.processors.JSONRenderer(serializer=orjson.dumps)


def _exc_info(value: Any) -> ExcInfo | None:
    if value is True:
        value = sys.exc_info()
    elif isinstance(value, BaseException):
        value = (type(value), value, value.__traceback__)
    if isinstance(value, tuple) and len(value) == 3 and value[0] is not None:
        return value
    return None
