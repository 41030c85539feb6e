"""One WebSocket echo session on a connection the server handed over. No Flask.

wsproto (sans-IO, the python-hyper project's) does the framing: masking, opcodes,
control frames, UTF-8 of text, close codes. This loop owns the socket and the
bounds, as go-httpbin's /websocket/echo has them: a frame larger than
max_fragment_size closes with 1002, a message larger than max_message_size with
1009; every message is echoed whole, in frames of at most max_fragment_size. A
session longer than its limit closes with 1008, a stopping worker's with 1001.
"""

from __future__ import annotations

import dataclasses
import select
import socket
import threading
import time
from collections.abc import Iterator

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError

from service.exchange.outcome import MAX_EVENTS, SessionEvent, SessionSummary

GOING_AWAY, PROTOCOL_ERROR, POLICY_VIOLATION, TOO_BIG, ABNORMAL = 1001, 1002, 1008, 1009, 1006
_POLL_SECONDS = 0.25  # how soon a stopping worker is noticed
_CLOSE_WAIT_SECONDS = 1.0  # for the peer's close frame after ours
_READ_BYTES = 65536


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """A session's bounds: frame and message payload bytes, and its length in seconds."""

    max_fragment: int
    max_message: int
    max_seconds: float


class Session:
    """Echo every message on `sock` until either side closes or a bound is reached."""

    def __init__(
        self, sock: socket.socket, limits: Limits, stopping: threading.Event | None
    ) -> None:
        self._sock = sock
        self._limits = limits
        self._stopping = stopping or threading.Event()
        self._ws = Connection(ConnectionType.SERVER)
        self._deadline = time.monotonic() + limits.max_seconds
        self._tally = _Tally()
        self._parts: list[bytes] = []
        self._message_size = self._frame_size = 0
        self._ended: tuple[int | None, str, str] | None = None  # code, reason, who closed

    def run(self, first: str | None = None) -> SessionSummary:
        """Serve the session (sending `first` before anything else) and say how it went."""
        try:
            if first is not None:
                self._send_message(first)
            while self._ended is None:
                self._step()
        except OSError:  # reset, or a peer that stopped reading past the deadline
            self._ended = self._ended or (ABNORMAL, "", "connection")
        except LocalProtocolError:  # wsproto refused to frame something: nothing more is sent
            self._ended = self._ended or (ABNORMAL, "", "server")
        code, reason, closed_by = self._ended
        return self._tally.summary(code, reason, closed_by)

    def _step(self) -> None:
        if self._stopping.is_set():
            return self._close(GOING_AWAY, "server shutting down")
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            return self._close(POLICY_VIOLATION, f"session over {self._limits.max_seconds:g} s")
        if not select.select([self._sock], [], [], min(remaining, _POLL_SECONDS))[0]:
            return None
        data = self._sock.recv(_READ_BYTES)
        if not data:
            self._ended = (ABNORMAL, "", "connection")
            return None
        self._ws.receive_data(data)
        for event in self._ws.events():
            self._handle(event)
            if self._ended is not None:
                break
        return None

    def _handle(self, event: Event) -> None:
        if isinstance(event, TextMessage | BytesMessage):
            self._receive(event)
        elif isinstance(event, Ping):
            self._tally.note("received", "ping", len(event.payload))
            self._send(event.response(), "pong", len(event.payload))
        elif isinstance(event, Pong):
            self._tally.note("received", "pong", len(event.payload))
        elif isinstance(event, CloseConnection) and self._ws.state is ConnectionState.OPEN:
            self._close(event.code, event.reason or "")  # wsproto found the input invalid
        elif isinstance(event, CloseConnection):
            self._tally.note("received", "close", len((event.reason or "").encode()))
            self._send(event.response(), "close", len((event.reason or "").encode()))
            self._ended = (event.code, event.reason or "", "client")

    def _receive(self, event: TextMessage | BytesMessage) -> None:
        chunk = event.data.encode() if isinstance(event.data, str) else bytes(event.data)
        self._frame_size += len(chunk)
        self._message_size += len(chunk)
        if self._frame_size > self._limits.max_fragment:
            limit = self._limits.max_fragment
            return self._close(PROTOCOL_ERROR, f"frame payload over max_fragment_size {limit}")
        if self._message_size > self._limits.max_message:
            limit = self._limits.max_message
            return self._close(TOO_BIG, f"message over max_message_size {limit}")
        self._parts.append(chunk)
        if event.frame_finished:
            self._frame_size = 0
        if event.message_finished:
            raw, self._parts, self._message_size = b"".join(self._parts), [], 0
            text = isinstance(event, TextMessage)
            self._tally.note("received", "text" if text else "binary", len(raw))
            self._send_message(raw.decode() if text else raw)
        return None

    def _send_message(self, message: str | bytes) -> None:
        """Echo `message` in frames of at most max_fragment_size payload bytes."""
        frames: Iterator[TextMessage | BytesMessage]
        if isinstance(message, str):
            kind, size = "text", len(message.encode())
            frames = (
                TextMessage(data=piece, message_finished=last)
                for piece, last in _text_frames(message, self._limits)
            )
        else:
            kind, size = "binary", len(message)
            frames = (
                BytesMessage(data=piece, message_finished=last)
                for piece, last in _binary_frames(message, self._limits)
            )
        out: list[bytes] = []
        pending = 0
        for frame in frames:
            last = frame.message_finished
            out.append(self._ws.send(frame))
            pending += len(out[-1])
            if pending >= _READ_BYTES or last:
                self._write(b"".join(out))
                out, pending = [], 0
            if not last and time.monotonic() > self._deadline:  # tiny frames of a big message
                return self._close(POLICY_VIOLATION, f"session over {self._limits.max_seconds:g} s")
        self._tally.note("sent", kind, size)
        return None

    def _send(self, event: Event, kind: str, size: int) -> None:
        self._write(self._ws.send(event))
        self._tally.note("sent", kind, size)

    def _close(self, code: int, reason: str) -> None:
        """Close from this side, wait briefly for the peer's close frame, and end."""
        self._send(CloseConnection(code=code, reason=reason), "close", len(reason.encode()))
        self._ended = (code, reason, "server")
        deadline = time.monotonic() + _CLOSE_WAIT_SECONDS
        while self._ws.state is not ConnectionState.CLOSED:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._sock], [], [], remaining)[0]:
                return
            data = self._sock.recv(_READ_BYTES)
            if not data:
                return
            self._ws.receive_data(data)
            for event in self._ws.events():
                if isinstance(event, CloseConnection):
                    self._tally.note("received", "close", len((event.reason or "").encode()))

    def _write(self, data: bytes) -> None:
        # A peer that stops reading cannot hold the thread past the session's end.
        self._sock.settimeout(max(self._deadline - time.monotonic(), 0) + _CLOSE_WAIT_SECONDS)
        self._sock.sendall(data)


def _binary_frames(message: bytes, limits: Limits) -> Iterator[tuple[bytes, bool]]:
    step = limits.max_fragment
    starts = range(0, max(len(message), 1), step)
    for start in starts:
        yield message[start : start + step], start + step >= len(message)


def _text_frames(message: str, limits: Limits) -> Iterator[tuple[str, bool]]:
    """Text frames of at most max_fragment_size bytes, never splitting a character."""
    raw, step, start = message.encode(), limits.max_fragment, 0
    while True:
        end = min(start + step, len(raw))
        while start < end < len(raw) and raw[end] & 0xC0 == 0x80:  # inside a character
            end -= 1
        if end == start and raw:  # a character longer than the limit goes whole
            end = start + 1
            while end < len(raw) and raw[end] & 0xC0 == 0x80:
                end += 1
        yield raw[start:end].decode(), end >= len(raw)
        if end >= len(raw):
            return
        start = end


class _Tally:
    """Counts each way, and the first MAX_EVENTS messages and control frames as events."""

    def __init__(self) -> None:
        self.counts = {"received": [0, 0], "sent": [0, 0]}  # messages, bytes
        self.events: list[SessionEvent] = []
        self.dropped = 0

    def note(self, direction: str, kind: str, size: int) -> None:
        if kind in ("text", "binary"):
            self.counts[direction][0] += 1
            self.counts[direction][1] += size
        if len(self.events) < MAX_EVENTS:
            self.events.append(SessionEvent(time.time_ns(), direction, kind, size))
        else:
            self.dropped += 1

    def summary(self, code: int | None, reason: str, closed_by: str) -> SessionSummary:
        (received, bytes_received), (sent, bytes_sent) = self.counts.values()
        return SessionSummary(
            received, sent, bytes_received, bytes_sent, code, reason, closed_by,
            tuple(self.events), self.dropped,
        )  # fmt: skip
