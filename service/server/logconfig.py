"""gunicorn's and the libraries' stdlib logging, rendered as echoscope's JSON lines.

`config/gunicorn.conf.py` passes `logconfig_dict(settings)` to gunicorn, which
applies it in the master before the workers fork: every stdlib record (gunicorn's
boot and worker lines, Flask's, OpenTelemetry's) goes through structlog's
`ProcessorFormatter` with the same processors as the exchange line.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from service.settings import Settings
from service.telemetry import logfields, otlplogs, redact


def stdlib_formatter(
    log_format: str = "json", redact_query: tuple[str, ...] = (), otlp: bool = False
) -> structlog.stdlib.ProcessorFormatter:
    """The formatter that renders gunicorn's and the libraries' records like our own lines."""
    # ProcessorFormatter wants text, so json lines are rendered with orjson decoded.
    render = (
        structlog.processors.JSONRenderer(serializer=_dumps_text)
        if log_format == "json"
        else logfields.renderer(log_format)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            _message_redactor(frozenset(redact_query)),
            *logfields.pre_chain(),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            logfields.message_renamer(),
            *([otlplogs.emitter] if otlp else []),  # each worker gives it its provider
            render,
        ],
    )


def logconfig_dict(settings: Settings) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: every stdlib record as one JSON line on stdout."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "structured",
        "stream": "ext://sys.stdout",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": stdlib_formatter,
                "log_format": settings.log_format,
                "redact_query": tuple(sorted(settings.redact_query)),
                "otlp": settings.otlp_logs,
            }
        },
        "filters": {"otel_rate": {"()": OncePerInterval, "prefix": "opentelemetry", "seconds": 30}},
        "handlers": {"stdout": {**handler, "filters": ["otel_rate"]}},
        "root": {"level": settings.log_level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {
                "level": settings.log_level,
                "handlers": ["stdout"],
                "propagate": False,
            },
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
    }


class OncePerInterval(logging.Filter):
    """Let one record per interval through for all the loggers under `prefix` together.

    A dead collector makes every exporter (spans, metrics, log records) warn on
    every attempt; this keeps that to one line per interval, counting what it
    held back.
    """

    def __init__(self, prefix: str, seconds: float) -> None:
        super().__init__()
        self._prefix, self._seconds = prefix, seconds
        self._last = -seconds
        self._held = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._prefix):
            return True
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._seconds:
                self._held += 1
                return False
            self._last, held, self._held = now, self._held, 0
        if held:
            record.msg = f"{record.msg} ({held} similar lines held back)"
        return True


def _message_redactor(names: frozenset[str]) -> Processor:
    redact_text = redact.in_text(names)

    def redact_message(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        message = event.get("event")
        if isinstance(message, str):
            event["event"] = redact_text(message)
        return event

    return redact_message


def _dumps_text(value: Any, **kwargs: Any) -> str:
    return orjson.dumps(value, **kwargs).decode("utf-8")
