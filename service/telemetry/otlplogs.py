"""Logs over OTLP: every line written to stdout also as one OpenTelemetry LogRecord.

With OTEL_LOGS_EXPORTER=otlp a structlog processor sits just before the
renderer in both chains (the exchange line's, and the stdlib formatter's for
gunicorn's and the libraries' lines): it sees the line exactly as it will be
written (redacted, bounded) and emits it as a LogRecord with the current
span's trace id, span id and flags, through this worker's LoggerProvider and
a batch processor (OTEL_BLRP_* read by the SDK). stdout is untouched. The
master process, which has no provider, writes its lines to stdout only; the
SDK's own warnings never become records (a dead collector would feed itself).

No Flask here: gunicorn's master builds the stdlib formatter with this module.
The logs SDK is the documented `opentelemetry.sdk._logs` package (the logs
signal's only Python SDK).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry._logs import Logger, SeverityNumber
from structlog.typing import EventDict, WrappedLogger

from service import __version__
from service.telemetry import logfields

if TYPE_CHECKING:
    from flask import Flask
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.resources import Resource

    from service.exchange.outcome import Outcome
    from service.settings import Settings

EXCHANGE = "_otlp_exchange"  # event key: what only the exchange's LogRecord carries
_PROVIDER = "echoscope.logger_provider"
_SHUTDOWN_TIMEOUT_MILLIS = 3000
_SEVERITY = {
    "DEBUG": SeverityNumber.DEBUG,
    "INFO": SeverityNumber.INFO,
    "NOTICE": SeverityNumber.INFO2,
    "WARNING": SeverityNumber.WARN,
    "ERROR": SeverityNumber.ERROR,
    "CRITICAL": SeverityNumber.FATAL,
}
_NOT_ATTRIBUTES = frozenset(
    {
        "severity",
        "time",
        "message",
        "trace_id",  # the record's own trace context carries these four
        "span_id",
        "trace_flags",
        logfields.TRACE,
        logfields.SPAN,
        logfields.SAMPLED,
        logfields.LABELS,  # the resource has them
        "logger",  # the instrumentation scope
        "httpRequest",  # mapped to OpenTelemetry's names
        "stack_trace",
        "error_type",
        EXCHANGE,
    }
)
_HTTP_REQUEST = {
    "requestUrl": "url.full",
    "status": "http.response.status_code",
    "userAgent": "user_agent.original",
    "remoteIp": "client.address",
    "latency": "echoscope.latency",
}


class LogRecordEmitter:
    """A structlog processor: the line about to be rendered, emitted as a LogRecord.

    One per process (gunicorn's master builds the stdlib formatter before the
    workers fork); each worker's app hands it that worker's LoggerProvider.
    """

    def __init__(self) -> None:
        self._provider: LoggerProvider | None = None
        self._loggers: dict[str, Logger] = {}

    def use(self, provider: LoggerProvider | None) -> None:
        """Emit through `provider` from now on (None: emit nothing)."""
        self._provider, self._loggers = provider, {}

    def __call__(self, _: WrappedLogger, __: str, event: EventDict) -> EventDict:
        exchange = event.pop(EXCHANGE, None)
        provider = self._provider
        name = event.get("logger") or "echoscope"
        if provider is None or name.startswith("opentelemetry"):
            return event
        logger = self._loggers.get(name)
        if logger is None:
            logger = self._loggers[name] = provider.get_logger(name, __version__)
        severity = event.get("severity", "")
        logger.emit(
            timestamp=time.time_ns(),
            severity_number=_SEVERITY.get(severity, SeverityNumber.UNSPECIFIED),
            severity_text=severity or None,
            body=event.get("message"),
            attributes=attributes_of(event, exchange),
        )
        return event


# One per process, like logfields.cloud_trace.
emitter = LogRecordEmitter()


def exchange_fields(outcome: Outcome, encoded_request: bytes) -> dict[str, Any]:
    """What the exchange's LogRecord says besides its line (taken off before rendering)."""
    return {
        "method": outcome.method,
        "route": outcome.route,
        "error_type": outcome.semconv_error_type,
        "protocol_version": outcome.protocol_version,
        "request": encoded_request,
    }


def attributes_of(event: EventDict, exchange: dict[str, Any] | None) -> dict[str, Any]:
    """A line's fields in OpenTelemetry's names where one exists, the rest under echoscope.*."""
    attributes: dict[str, Any] = {}
    http_request = event.get("httpRequest")
    if http_request:
        _add_http_request(attributes, http_request)
    if exchange is not None:
        _add_exchange(attributes, exchange, http_request or {})
    _add_exception(attributes, event)
    for key, item in event.items():
        if key not in _NOT_ATTRIBUTES and item is not None:
            attributes.setdefault(f"echoscope.{key}", _value(item))
    return attributes


def _add_http_request(attributes: dict[str, Any], http_request: dict[str, Any]) -> None:
    for key, name in _HTTP_REQUEST.items():
        item = http_request.get(key)
        if item is not None:
            attributes[name] = item
    for key, name in (("requestSize", "request"), ("responseSize", "response")):
        if http_request.get(key) is not None:
            attributes[f"http.{name}.body.size"] = int(http_request[key])
    if http_request.get("referer"):
        attributes["http.request.header.referer"] = [http_request["referer"]]


def _add_exchange(
    attributes: dict[str, Any], exchange: dict[str, Any], http_request: dict[str, Any]
) -> None:
    """What the exchange line says in its own words: bounded method, route, error, protocol."""
    attributes["http.request.method"] = exchange["method"]
    original = http_request.get("requestMethod")
    if original and original != exchange["method"]:
        attributes["http.request.method_original"] = original
    if exchange["route"]:
        attributes["http.route"] = exchange["route"]
    if exchange["error_type"]:
        attributes["error.type"] = exchange["error_type"]
    if exchange["protocol_version"]:
        attributes["network.protocol.name"] = "http"
        attributes["network.protocol.version"] = exchange["protocol_version"]
    attributes["echoscope.request"] = exchange["request"].decode()  # the bounded JSON of stdout


def _add_exception(attributes: dict[str, Any], event: EventDict) -> None:
    error_type, stack = event.get("error_type"), event.get("stack_trace")
    if error_type:
        attributes.setdefault("error.type", error_type)
    if stack:
        attributes["exception.stacktrace"] = stack
        last = stack.rstrip().rsplit("\n", 1)[-1]
        kind, _, message = last.partition(": ")
        attributes["exception.type"] = error_type or kind
        attributes["exception.message"] = message


def _value(item: Any) -> Any:
    # Nested fields go as their JSON text: the SDK checks a map value by value, twice,
    # which cost more than the rest of the record together.
    if isinstance(item, str | bool | int | float):
        return item
    if isinstance(item, dict | list | tuple):
        return orjson.dumps(item, default=str).decode()
    return str(item)


def init_app(app: Flask, settings: Settings, resource: Resource) -> None:
    """Give this worker a LoggerProvider exporting over OTLP when OTEL_LOGS_EXPORTER=otlp."""
    if not settings.otlp_logs:
        emitter.use(None)
        return
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    from service.telemetry import otlpexporters

    provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    exporter = otlpexporters.log_exporter(settings.otlp_logs_protocol, settings.otlp_http["logs"])
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    app.extensions[_PROVIDER] = provider
    emitter.use(provider)


def shutdown(app: Flask) -> None:
    """Send every queued record and stop (worker_exit calls this after the last line), bounded."""
    provider: LoggerProvider | None = app.extensions.get(_PROVIDER)
    if provider is None:
        return
    emitter.use(None)

    def stop() -> None:
        provider.force_flush(_SHUTDOWN_TIMEOUT_MILLIS)
        provider.shutdown()

    stopper = threading.Thread(target=stop, daemon=True)
    stopper.start()
    stopper.join(_SHUTDOWN_TIMEOUT_MILLIS / 1000)
