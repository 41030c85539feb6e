"""What one exchange was: the typed echo record and the frozen Outcome every finisher reads.

No Flask and no feature here: the finishers (log line, metrics, spans, history)
import these types, and mypy checks every field they read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NotRequired, TypedDict

from service.exchange.traceids import TraceIds


class FileInfo(TypedDict):
    """An uploaded file, described, never echoed."""

    field: str
    filename: str | None
    content_type: str | None
    size: int | None
    sha256: str | None


class Record(TypedDict):
    """The echo record: what a request looked like on arrival (README, "The echo record")."""

    uuid: str
    endpoint: str | None
    method: str
    cookies: dict[str, str]
    data: str
    headers: dict[str, str]
    args: dict[str, Any]
    form: dict[str, Any]
    remote_addr: str | None
    files: list[FileInfo]
    path: str
    url: str
    scheme: str
    host: str
    query_string: str
    json: Any
    data_encoding: str | None
    body_size: int | None
    client_ip: str | None
    origin: str | None
    trace: dict[str, Any] | None
    server: dict[str, Any]
    trace_context: dict[str, Any]
    auth: dict[str, Any] | None
    client_cert: dict[str, Any] | None
    tls: NotRequired[dict[str, Any]]
    body_complete: bool | None  # False: the body ended before its Content-Length or last chunk
    body_expected_size: int | None  # the Content-Length
    json_error: NotRequired[str]
    form_error: NotRequired[str]
    content_encoding: NotRequired[str]
    encoding_error: NotRequired[str]
    decoded_size: NotRequired[int]
    calls: NotRequired[list[dict[str, Any]]]
    protocol: str  # "HTTP/1.1", "HTTP/2"
    http2: dict[str, Any] | None  # an HTTP/2 request's stream id, pseudo-headers, header names


@dataclasses.dataclass(frozen=True, slots=True)
class DownstreamCall:
    """What one outgoing call made during the exchange did, as telemetry reports it."""

    url: str
    method: str
    status: int | None
    duration: float  # seconds, from sending to the last byte read
    error: str | None
    error_type: str  # bounded: "" when the call worked
    verdict: str
    server_address: str  # bounded metric label
    server_port: int  # bounded metric label: a configured target's port, 0 for any other


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


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What one exchange was, measured once; every finisher reads only this."""

    request_id: str
    record: Record
    method: str  # bounded: `_OTHER` for non-standard methods
    route: str  # the rule template, or "" when no rule matched
    status: int
    elapsed: float  # seconds, from before the first hook to the last byte
    request_size: int
    response_size: int
    response_headers: dict[str, str]
    response_body: bytes  # the body sent (its first 64 KiB for a stream)
    body_is_record: bool  # the response body is the echo record itself
    trace: TraceIds | None
    protocol: str | None
    error_type: str  # "" unless an unhandled exception ended the request
    excluded: bool  # a path of ECHO_EXCLUDE_PATHS: counted, never logged, traced or recorded
    calls: tuple[DownstreamCall, ...] = ()  # the outgoing calls the exchange made
    websocket: SessionSummary | None = None  # the session /websocket/echo served
    written_by_caller: bool = False  # the body is the caller's x-set-response-body
    fault: str = ""  # the connection fault the caller asked for (x-set-response-fault)

    @property
    def protocol_version(self) -> str:
        """`network.protocol.version` ("1.1", "2"); "" for a protocol outside the list."""
        return _PROTOCOL_VERSIONS.get(self.protocol or "", "")

    @property
    def semconv_error_type(self) -> str:
        """OpenTelemetry's `error.type`: the exception's type, the fault asked for, a 5xx, or ""."""
        if self.error_type or self.fault:
            return self.error_type or self.fault
        return str(self.status) if self.status >= 500 else ""


_PROTOCOL_VERSIONS = {
    "HTTP/1.0": "1.0",
    "HTTP/1.1": "1.1",
    "HTTP/2": "2",
    "HTTP/2.0": "2",
    "HTTP/3": "3",
}


Finisher = Callable[[Outcome], None]
