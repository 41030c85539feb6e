"""A WebSocket session on its span: counts and close as attributes, messages as events."""

from __future__ import annotations

from opentelemetry import trace

from service.exchange.outcome import SessionSummary


def add_to_span(span: trace.Span, session: SessionSummary | None) -> None:
    """A WebSocket session: its counts and close, and each message as an event.

    The events follow OpenTelemetry's RPC `message` event (type, id per direction, size).
    Nothing for an exchange that was no session.
    """
    if session is None:
        return
    span.set_attributes(
        {
            "websocket.messages.received": session.messages_received,
            "websocket.messages.sent": session.messages_sent,
            "websocket.bytes.received": session.bytes_received,
            "websocket.bytes.sent": session.bytes_sent,
            "websocket.close.code": session.close_code or 0,
            "websocket.close.reason": session.close_reason,
            "websocket.closed_by": session.closed_by,
            "websocket.events_dropped": session.events_dropped,
        }
    )
    ids = {"received": 0, "sent": 0}
    for event in session.events:
        ids[event.direction] += 1
        attributes: dict[str, str | int] = {
            "message.type": event.direction.upper(),
            "message.id": ids[event.direction],
            "message.uncompressed_size": event.size,
            "websocket.frame": event.kind,
        }
        span.add_event("message", attributes, timestamp=event.time_ns)
