"""What a WebSocket session was, measured once: frozen data the finishers read. No Flask."""

from __future__ import annotations

import dataclasses

MAX_EVENTS = 100  # span events per session; past it they are only counted


@dataclasses.dataclass(frozen=True, slots=True)
class SessionEvent:
    """One message or control frame, as its span event: when, which way, what, how big."""

    time_ns: int  # wall clock, for the span event's timestamp
    direction: str  # "received" or "sent"
    kind: str  # "text", "binary", "ping", "pong", "close"
    size: int  # payload bytes


@dataclasses.dataclass(frozen=True, slots=True)
class SessionSummary:
    """A finished WebSocket session: counts each way, how it closed and who closed it."""

    messages_received: int
    messages_sent: int
    bytes_received: int  # message payload bytes (text as UTF-8)
    bytes_sent: int
    close_code: int | None  # the code of the close frame that ended it; 1006 when none came
    close_reason: str
    closed_by: str  # "client", "server" or "connection" (the TCP connection ended first)
    events: tuple[SessionEvent, ...]  # the first MAX_EVENTS messages and control frames
    events_dropped: int

    def as_dict(self) -> dict[str, object]:
        """The summary as the exchange line shows it (the events are the span's)."""
        return {
            "messages_received": self.messages_received,
            "messages_sent": self.messages_sent,
            "bytes_received": self.bytes_received,
            "bytes_sent": self.bytes_sent,
            "close_code": self.close_code,
            "close_reason": self.close_reason,
            "closed_by": self.closed_by,
        }
