"""One JSON error shape for every error: {"error", "status", "detail"}."""

from __future__ import annotations

import orjson
import structlog
from flask import Flask, Response
from werkzeug.exceptions import HTTPException, InternalServerError

_log = structlog.get_logger("echoscope.errors")


def init_app(app: Flask) -> None:
    """Answer every HTTP error, and every unhandled exception, with a JSON body."""
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, _unhandled)


def http_error(error: HTTPException) -> Response:
    """The JSON response for an HTTP error, keeping its headers (e.g. Allow on 405)."""
    response = Response(status=error.code or 500, headers=error.get_headers())
    status = error.code or 500
    body = {"error": error.name, "status": status, "detail": error.description}
    response.set_data(orjson.dumps(body))
    response.mimetype = "application/json"
    return response


def _unhandled(error: Exception) -> Response:
    # The traceback goes to the log as one structured ERROR line, never to the client.
    _log.exception("unhandled exception", error_type=type(error).__name__)
    return http_error(InternalServerError())
