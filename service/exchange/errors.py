"""One JSON error shape for every error: {"error", "status", "detail"}."""

from __future__ import annotations

import orjson
import structlog
from flask import Flask, Response
from opentelemetry import trace
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from service.exchange import pipeline
from service.settings import Settings

_log = structlog.get_logger("echoscope.errors")


def init_app(app: Flask, settings: Settings) -> None:
    """Answer every HTTP error, and every unhandled exception, with a JSON body."""
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, _unhandled)


def http_error(error: HTTPException) -> Response:
    """The JSON response for an HTTP error, keeping its headers (e.g. Allow on 405)."""
    status = error.code or 500
    return json_error(status, error.name, error.description or "", error.get_headers())


def json_error(
    status: int, name: str, detail: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    """The error shape as a response."""
    body = {"error": name, "status": status, "detail": detail}
    response = Response(orjson.dumps(body) + b"\n", status=status, headers=headers)
    response.mimetype = "application/json"
    return response


def _unhandled(error: Exception) -> Response:
    # The traceback goes to the log as one ERROR line (Error Reporting reads its
    # `stack_trace`), never to the client; metrics label the exchange with its type.
    exchange = pipeline.current_or_none()
    if exchange is not None:
        exchange.note_error(error)
    trace.get_current_span().record_exception(error)  # type, message and stack as a span event
    _log.exception("unhandled exception", error_type=type(error).__qualname__)
    return http_error(InternalServerError())


def too_large(limit: int, what: str = "body") -> RequestEntityTooLarge:
    """The 413 for a body (or a decoded body) over ECHO_MAX_BODY_BYTES: one wording everywhere."""
    return RequestEntityTooLarge(f"The {what} is larger than {limit} bytes.")
