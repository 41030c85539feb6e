"""`/call`: registered always; a JSON 404 while ECHO_CALL_TARGETS is empty.

The client behind it (httpx, httpcore and OpenTelemetry's httpx instrumentation,
~125 ms of imports) is loaded only when there are targets: service.calls.endpoint.
"""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.exceptions import NotFound

from service.exchange.routing import add_any_method_rule
from service.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    """Register /call (a JSON 404 while ECHO_CALL_TARGETS is empty)."""
    if not settings.call_targets:
        add_any_method_rule(app, "/call", "call", _off)
        return
    from service.calls import endpoint  # httpx: only when /call is on

    add_any_method_rule(app, "/call", "call", endpoint.view(app, settings))


def _off(**_: str) -> Response:
    raise NotFound("/call is off: ECHO_CALL_TARGETS is empty.")
