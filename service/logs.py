"""Logs: one Cloud-Logging-shaped JSON line per exchange, and the same shape for every other line.

structlog renders everything: the exchange line through a lean BytesLogger,
gunicorn's and the libraries' stdlib records through `ProcessorFormatter`
(wired by `logconfig_dict` in `config/gunicorn.conf.py`). Both share one
processor chain, so every line carries severity, timestamp and trace fields.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import orjson
import structlog
from flask import Flask, Request, Response
from structlog.typing import EventDict, Processor, WrappedLogger

from service import echo, exchange, gcp, redact
from service.exchange import Exchange
from service.identity import Identity
from service.settings import Settings

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
_TRACE = "logging.googleapis.com/trace"
_SPAN = "logging.googleapis.com/spanId"
_SAMPLED = "logging.googleapis.com/trace_sampled"
_LABELS = "logging.googleapis.com/labels"
# Frame locals would carry the request, secrets included, into the log.
_STRUCTURED_TRACEBACK = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)


class Correlation:
    """Per-process facts every line carries: the trace prefix and the Cloud Logging labels."""

    trace_prefix = ""
    labels: dict[str, str] = {}

    @classmethod
    def set_project(cls, project: str) -> None:
        cls.trace_prefix = f"projects/{project}/traces/"


def add_severity(_: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """Cloud Logging's `severity` from the log method or the stdlib level."""
    event["severity"] = _SEVERITY.get(method, "DEFAULT")
    return event


def add_trace(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """The current span's ids, in the fields Cloud Logging correlates with Cloud Trace."""
    ids = exchange.current_trace_ids()
    if ids is not None:
        event[_TRACE] = Correlation.trace_prefix + ids.trace_id
        event[_SPAN] = ids.span_id
        event[_SAMPLED] = ids.sampled
    if Correlation.labels:
        event[_LABELS] = Correlation.labels
    return event


def shared_processors() -> list[Processor]:
    """The chain every line goes through before it is rendered."""
    return [
        structlog.contextvars.merge_contextvars,
        add_severity,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        add_trace,
        _STRUCTURED_TRACEBACK,
        structlog.processors.EventRenamer("message"),
    ]


def renderer(log_format: str) -> Processor:
    """orjson for `json` (bytes for BytesLogger), structlog's console renderer for `console`."""
    if log_format == "console":
        return structlog.dev.ConsoleRenderer(colors=False, event_key="message")
    return structlog.processors.JSONRenderer(serializer=orjson.dumps)


def init_app(
    app: Flask, settings: Settings, identity: Identity, stream: IO[bytes] | None = None
) -> None:
    """Configure structlog for this process and write the exchange line after every response."""
    Correlation.labels = _labels(identity)
    Correlation.trace_prefix = ""
    gcp.discover_project(
        settings.google_cloud_project,
        settings.k_service is not None,
        settings.metadata_host,
        Correlation.set_project,
    )
    logger = _configure(settings, stream or sys.stdout.buffer)
    exchange.on_finish(app, _exchange_writer(settings, logger))


def _configure(settings: Settings, stream: IO[bytes]) -> Any:
    wrapper = structlog.make_filtering_bound_logger(
        logging.getLevelNamesMapping()[settings.log_level]
    )
    chain = [*shared_processors(), renderer(settings.log_format)]
    if settings.log_format == "json":
        factory: Any = structlog.BytesLoggerFactory(stream)  # type: ignore[arg-type]
    else:
        factory = structlog.WriteLoggerFactory(_TextStream(stream))  # type: ignore[arg-type]
    structlog.configure(
        processors=chain,
        wrapper_class=wrapper,
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    return structlog.wrap_logger(factory(), processors=chain, wrapper_class=wrapper)


def _exchange_writer(settings: Settings, logger: Any) -> Callable[[Exchange, Response], None]:
    excluded = frozenset(settings.exclude_paths)
    as_fragment = settings.log_format == "json"
    describe = _describer(settings)

    def write(current: Exchange, response: Response) -> None:
        req = current.request
        if req.path in excluded:
            return
        status = response.status_code
        level = (
            logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
        )
        if not logger.is_enabled_for(level):
            return
        seconds = time.perf_counter() - current.started
        loggable = describe(echo.record_of(current, body=False))
        encoded = orjson.dumps(loggable)
        logger.log(
            level,
            f"{req.method} {req.path} {status} {seconds * 1000:.1f}ms",
            httpRequest=_http_request(req, loggable, response, seconds),
            request=orjson.Fragment(encoded) if as_fragment else loggable,
            response=_response_part(settings, response, encoded if current.echoed else None),
        )

    return write


def _describer(settings: Settings) -> Callable[[dict[str, Any]], dict[str, Any]]:
    headers, query, limit = settings.redact_headers, settings.redact_query, settings.log_body_bytes

    def describe(record: dict[str, Any]) -> dict[str, Any]:
        loggable = dict(record)
        loggable["headers"] = redact.headers(record["headers"], headers, query)
        loggable["cookies"] = redact.cookies(record["cookies"])
        if record["query_string"]:
            loggable["args"] = redact.mapping(record["args"], query)
            loggable["query_string"] = redact.query_string(record["query_string"], query)
            loggable["url"] = redact.url(record["url"], query)
        if record["body_size"] and record["body_size"] > limit:
            data = record["data"].encode()[:limit].decode("utf-8", "ignore")
            loggable.update(data=data, json=None, form={}, truncated=True)
        return loggable

    return describe


def _http_request(
    req: Request, loggable: dict[str, Any], response: Response, seconds: float
) -> dict[str, Any]:
    # `loggable` is already redacted: its Referer had its query secrets replaced.
    return {
        "requestMethod": req.method,
        "requestUrl": loggable["url"],
        "status": response.status_code,
        "requestSize": str(loggable["body_size"] or 0),
        "responseSize": str(response.content_length or 0),
        "userAgent": loggable["headers"].get("User-Agent"),
        "remoteIp": loggable["client_ip"],
        "referer": loggable["headers"].get("Referer"),
        "latency": f"{seconds:.6f}s",
        "protocol": req.environ.get("SERVER_PROTOCOL"),
    }


def _response_part(settings: Settings, response: Response, echoed: bytes | None) -> dict[str, Any]:
    # An echo response is the record itself: log its redacted form, never the caller's secrets.
    body = echoed if echoed is not None else response.get_data()
    limit = settings.log_body_bytes
    part = {
        "status": response.status_code,
        "headers": redact.headers(
            dict(response.headers), settings.redact_headers, settings.redact_query
        ),
        "body": body[:limit].decode("utf-8", "replace"),
        "body_size": response.content_length or 0,
    }
    if len(body) > limit:
        part["truncated"] = True
    return part


def _labels(identity: Identity) -> dict[str, str]:
    labels = {"service": identity.service, "instance": identity.instance}
    if identity.revision:
        labels["revision"] = identity.revision
    return labels


class _TextStream:
    """A text view of a byte stream, for the console renderer."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def write(self, text: str) -> None:
        self._stream.write(text.encode("utf-8", "replace"))

    def flush(self) -> None:
        self._stream.flush()
