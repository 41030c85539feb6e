"""The connection fault a caller asked for (x-set-response-fault), as an event on its span.

Added when the response is ready, while the server span is still open: a
streamed answer (`slow`) ends its span before its last byte, too late for a
finisher reading the Outcome.
"""

from __future__ import annotations

from flask import Flask, Response
from opentelemetry import trace

from service.exchange import pipeline

EVENT = "echoscope.fault"


def init_app(app: Flask) -> None:
    """Mark the span of every faulted exchange (after the view named the fault)."""
    app.after_request(_mark_fault)


def _mark_fault(response: Response) -> Response:
    exchange = pipeline.current_or_none()
    fault = exchange.fault if exchange is not None else ""
    if not fault:
        return response
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event(EVENT, {EVENT: fault})
        span.set_attribute("error.type", fault)
    return response
