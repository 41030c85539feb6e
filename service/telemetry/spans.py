"""What a finished exchange writes on its SERVER span: response attributes, redaction, name.

The instrumentation opened the span with the request's attributes; this finisher reads
only the Outcome, redacts what the request's attributes held, and sets the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from opentelemetry import trace

from service.exchange import routing
from service.exchange.outcome import Outcome
from service.settings import Settings
from service.telemetry import credentials, redact, sessions

_HEADER = "http.request.header."
_REFERER = f"{_HEADER}referer"


def finisher(settings: Settings) -> Callable[[Outcome], None]:
    header_keys = frozenset(_header_key(name) for name in settings.redact_headers)
    token_keys = frozenset(_header_key(name) for name in credentials.TOKEN_HEADERS)
    query_names = settings.redact_query

    def finish(outcome: Outcome) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        _add_response_attributes(span, outcome)
        query = outcome.record["query_string"]
        if query:
            span.set_attribute("url.query", redact.query_string(query, query_names))
        # One pass over the keys the span holds (a dozen), rather than a lookup of each
        # name that could be sensitive: most are absent, and a miss raises inside Mapping.
        attributes = getattr(span, "attributes", None) or {}
        captured = [key for key in attributes if key.startswith(_HEADER)]
        for key in captured:
            if key in header_keys or (key in token_keys and _holds_token(key, attributes[key])):
                span.set_attribute(key, [redact.REDACTED])
            elif key == _REFERER and attributes[key]:
                referer = attributes[key]
                span.set_attribute(key, [redact.url(value, query_names) for value in referer])
        _split_server_address(span, attributes.get("server.address"))
        if not outcome.route:  # no rule matched: `{METHOD}`, and no http.route
            span.update_name(routing.span_name(outcome.method, outcome.route))
        sessions.add_to_span(span, outcome.websocket)

    return finish


def _holds_token(key: str, values: Sequence[str]) -> bool:
    """A token header carries a credential (redacted whatever ECHO_REDACT_HEADERS says)."""
    return any(credentials.holds_token(key[len(_HEADER) :], value) for value in values)


def _header_key(name: str) -> str:
    return f"{_HEADER}{name.replace('-', '_')}"


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
