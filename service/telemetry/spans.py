"""What a finished exchange writes on its SERVER span: response attributes, redaction, name.

The instrumentation opened the span with the request's attributes; this finisher reads
only the Outcome, redacts what the request's attributes held, and sets the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from opentelemetry import trace

from service.exchange import routing
from service.exchange.outcome import Outcome
from service.settings import Settings
from service.telemetry import credentials, redact, sessions

_REFERER = "http.request.header.referer"


def finisher(settings: Settings) -> Callable[[Outcome], None]:
    header_keys = [
        f"http.request.header.{name.replace('-', '_')}" for name in settings.redact_headers
    ]
    token_keys = [
        f"http.request.header.{name.replace('-', '_')}" for name in credentials.TOKEN_HEADERS
    ]
    query_names = settings.redact_query

    def finish(outcome: Outcome) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        _add_response_attributes(span, outcome)
        query = outcome.record["query_string"]
        if query:
            span.set_attribute("url.query", redact.query_string(query, query_names))
        attributes = getattr(span, "attributes", None) or {}
        for key in header_keys:
            if key in attributes:
                span.set_attribute(key, [redact.REDACTED])
        for key in token_keys:  # tokens, whatever ECHO_REDACT_HEADERS says
            if any(credentials.holds_token(key[20:], value) for value in attributes.get(key, ())):
                span.set_attribute(key, [redact.REDACTED])
        referer = attributes.get(_REFERER)
        if referer:
            span.set_attribute(_REFERER, [redact.url(value, query_names) for value in referer])
        _split_server_address(span, attributes.get("server.address"))
        if not outcome.route:  # no rule matched: `{METHOD}`, and no http.route
            span.update_name(routing.span_name(outcome.method, outcome.route))
        sessions.add_to_span(span, outcome.websocket)

    return finish


def _add_response_attributes(span: trace.Span, outcome: Outcome) -> None:
    # What the instrumentation's WSGI wrapper (un-wrapped in init_app) would set.
    span.set_attribute("http.response.status_code", outcome.status)
    error = outcome.semconv_error_type  # the same on the metric and the log record
    if error:
        span.set_attribute("error.type", error)
    if outcome.status >= 500:
        span.set_status(trace.Status(trace.StatusCode.ERROR))


def _split_server_address(span: trace.Span, address: object) -> None:
    """`server.address` is the host alone, `server.port` the port (the Host header has both)."""
    if not isinstance(address, str) or ":" not in address:
        return
    parsed = urlsplit(f"//{address}")
    try:
        port = parsed.port
    except ValueError:
        return  # not host:port (a bare IPv6 literal): leave it as it came
    if parsed.hostname:
        span.set_attribute("server.address", parsed.hostname)
    if port is not None:
        span.set_attribute("server.port", port)
