"""The exchange line: one Cloud-Logging-shaped JSON line per finished exchange.

The fields every line carries (severity, time, trace, stack trace) come from
`service.telemetry.logfields`, shared with gunicorn's and the libraries' lines.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Callable
from typing import IO, Any

import orjson
import structlog
from flask import Flask

from service.exchange.identity import Identity
from service.exchange.outcome import DownstreamCall, Outcome
from service.exchange.pipeline import on_finish
from service.settings import Settings
from service.telemetry import logfields, logparts, logwriter, otlplogs, redact

LOG_STREAM = "ECHOSCOPE_LOG_STREAM"  # app.config key: where lines go (stdout by default)
_WRITER = "echoscope.log_writer"
Sink = IO[bytes] | logwriter.LineWriter


def init_app(app: Flask, settings: Settings, identity: Identity) -> None:
    """Configure structlog for this process and write the exchange line of every exchange."""
    logfields.cloud_trace.configure(_labels(identity))
    logger = _configure(settings, app.config.get(LOG_STREAM) or _stdout_writer(app))
    on_finish(app, _exchange_writer(settings, logger))


def shutdown(app: Flask) -> None:
    """Write every queued line (gunicorn's worker_exit hook calls this)."""
    writer = app.extensions.get(_WRITER)
    if writer is not None:
        writer.close()


def _stdout_writer(app: Flask) -> logwriter.LineWriter:
    writer = app.extensions[_WRITER] = logwriter.LineWriter(sys.stdout.buffer)
    return writer


def _configure(settings: Settings, stream: Sink) -> Any:
    wrapper = structlog.make_filtering_bound_logger(
        logging.getLevelNamesMapping()[settings.log_level]
    )
    chain = [*logfields.pre_chain(), logfields.message_renamer()]
    if settings.otlp_logs:
        chain.append(otlplogs.emitter)
    chain.append(logfields.renderer(settings.log_format))
    if settings.log_format == "json" and isinstance(stream, logwriter.LineWriter):
        factory: Any = lambda *_: logwriter.LineLogger(stream)  # noqa: E731
    elif settings.log_format == "json":
        factory = structlog.BytesLoggerFactory(stream)  # type: ignore[arg-type]
    else:
        factory = structlog.WriteLoggerFactory(logwriter.TextStream(stream))  # type: ignore[arg-type]
    structlog.configure(
        processors=chain,
        wrapper_class=wrapper,
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    return structlog.wrap_logger(factory(), processors=chain, wrapper_class=wrapper).bind()


@dataclasses.dataclass(frozen=True, slots=True)
class ExchangeLine:
    """What an exchange line holds besides the fields every line carries: redacted, bounded."""

    message: str
    http_request: dict[str, Any]
    request: dict[str, Any]  # the redacted record
    encoded_request: bytes  # `request` as JSON
    response: dict[str, Any]
    calls: list[dict[str, Any]] | None  # /call's downstream calls, when there were any
    websocket: dict[str, object] | None = None  # a WebSocket session's counts and close


def line_builder(settings: Settings) -> Callable[[Outcome], ExchangeLine]:
    """Outcome -> the exchange line's own fields (the inspector's history keeps them too)."""
    rules = logparts.HeaderRules(settings)
    describe = logparts.describer(settings, rules)
    respond = logparts.responder(settings, rules)
    query = settings.redact_query
    in_text = redact.in_text(query)

    def build(outcome: Outcome) -> ExchangeLine:
        record = outcome.record
        loggable, encoded, found = describe(record)
        return ExchangeLine(
            # %-formatting: the same text as an f-string's format spec, formatted faster
            "%s %s %d %.1fms"  # noqa: UP031
            % (record["method"], record["path"], outcome.status, outcome.elapsed * 1000),
            _http_request(outcome, loggable),
            loggable,
            encoded,
            respond(outcome, encoded, found),
            _calls(outcome.calls, query, in_text) if outcome.calls else None,
            outcome.websocket.as_dict() if outcome.websocket else None,
        )

    return build


def _exchange_writer(settings: Settings, logger: Any) -> Callable[[Outcome], None]:
    as_fragment = settings.log_format == "json"
    build = line_builder(settings)
    otlp = settings.otlp_logs
    # The logger's method for each level an exchange line may have, when it is enabled.
    methods = {
        logging.INFO: logger.info,
        logging.WARNING: logger.warning,
        logging.ERROR: logger.error,
    }
    log = {level: method for level, method in methods.items() if logger.is_enabled_for(level)}

    def write(outcome: Outcome) -> None:
        if outcome.excluded:
            return
        emit = log.get(_level(outcome.status))
        if emit is None:  # below ECHO_LOG_LEVEL
            return
        line = build(outcome)
        fields: dict[str, Any] = {
            "httpRequest": line.http_request,
            "request": orjson.Fragment(line.encoded_request) if as_fragment else line.request,
            "response": line.response,
        }
        if line.calls:
            fields["calls"] = line.calls
        if line.websocket:
            fields["websocket"] = line.websocket
        if otlp:  # what the LogRecord says besides the line, taken off before rendering
            fields[otlplogs.EXCHANGE] = otlplogs.exchange_fields(outcome, line.encoded_request)
        if outcome.trace is not None:  # read when the exchange began: not looked up again
            fields[logfields.TRACE_IDS] = outcome.trace
        emit(line.message, **fields)

    return write


def _level(status: int) -> int:
    return logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO


def _http_request(outcome: Outcome, loggable: dict[str, Any]) -> dict[str, Any]:
    # `loggable` is already redacted: its Referer had its query secrets replaced.
    headers = loggable["headers"]
    return {
        "requestMethod": loggable["method"],
        "requestUrl": loggable["url"],
        "status": outcome.status,
        "requestSize": str(outcome.request_size),
        "responseSize": str(outcome.response_size),
        "userAgent": headers.get("User-Agent"),
        "remoteIp": loggable["client_ip"],
        "referer": headers.get("Referer"),
        "latency": "%.6fs" % outcome.elapsed,  # noqa: UP031
        "protocol": outcome.protocol,
    }


def _calls(
    calls: tuple[DownstreamCall, ...], query: frozenset[str], in_text: Callable[[str], str]
) -> list[dict[str, Any]]:
    # What each downstream call did, without the answers (the record's `calls` has them).
    return [
        {
            "url": redact.url(call.url, query),
            "method": call.method,
            "status": call.status,
            "duration_ms": round(call.duration * 1000, 3),
            "verdict": call.verdict,
            "error": in_text(call.error) if call.error else None,
        }
        for call in calls
    ]


def _labels(identity: Identity) -> dict[str, str]:
    labels = {"service": identity.service, "instance": identity.instance}
    if identity.revision:
        labels["revision"] = identity.revision
    return labels
