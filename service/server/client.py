"""A client connection as echoscope's worker holds it: what arrived of its next request.

The event loop (service/server/eventloop.py) reads into `ahead`; once a thread
takes the connection, `init` hands those bytes to gunicorn's parser, which
reads the rest through a `wire.BoundedSource` under SO_RCVTIMEO and answers
under SO_SNDTIMEO (ECHO_BODY_TIMEOUT_SECONDS). No Flask here.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import socket
import struct
from collections.abc import Iterator
from typing import Any

import orjson
from gunicorn import http
from gunicorn.http.errors import InvalidH2CPreface
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn

from service.server import wire
from service.server.readahead import ReadAhead


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """The read bounds (ECHO_HEADER_TIMEOUT_SECONDS, ECHO_BODY_TIMEOUT_SECONDS)."""

    header_timeout: float = 10.0
    body_timeout: float = 15.0
    max_body: int = 10_485_760  # ECHO_MAX_BODY_BYTES: a longer body is refused from the head


class ConnSocket(socket.socket):
    """An accepted socket whose `setblocking` makes no syscall when the mode is already set.

    gunicorn's threaded worker sets the socket blocking before every request it
    serves; echoscope's event loop reads with MSG_DONTWAIT and leaves it blocking,
    so that call would be one ioctl per request, letting the GIL go to another thread.
    """

    __slots__ = ()

    @classmethod
    def adopt(cls, sock: socket.socket) -> ConnSocket:
        return cls(sock.family, sock.type, sock.proto, fileno=sock.detach())

    def setblocking(self, flag: bool) -> None:
        if self.gettimeout() != (None if flag else 0.0):  # a timeout is neither mode
            super().setblocking(flag)


class Client(TConn):  # type: ignore[misc]
    """A client connection, with what the event loop has read of its next request."""

    initialized: bool  # gunicorn's

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any, limits: Limits):
        super().__init__(cfg, sock, client, server)
        self.limits = limits
        self.source = wire.BoundedSource(sock)
        self.ahead: ReadAhead | None = None
        self.handed = b""  # read ahead before the parser existed
        self.deadline = 0.0
        self.turn = 0  # bumped whenever the connection changes hands: older deadlines lapse
        self.closing = False
        self.on_readable: Any = None  # the loop's callback while it holds the connection

    def init(self) -> None:
        if self.initialized or self.cfg.is_ssl:
            super().init()
            return
        self.initialized = True
        self.sock.setblocking(True)
        data, self.handed = self.handed, b""
        if negotiation.prior_knowledge_allowed(self.cfg, self.client):
            if negotiation.preface_match(data) == negotiation.MATCH:
                self.is_http2 = True
                self.parser = http.get_parser(self.cfg, self.sock, self.client, True)
                self.parser.initiate_connection()
                # What arrived with the preface may hold whole requests: served first.
                self.parser.pending_requests.extend(self.parser.receive_data(data))
                return
            if negotiation.mismatch_is_error(self.cfg):
                raise InvalidH2CPreface(data)
        timeout = timeval(self.limits.body_timeout)  # HTTP/1 only: gunicorn's HTTP/2 reads differ
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout)
        self.parser = http.get_parser(self.cfg, self.sock, self.client)
        self.parser.unreader.sock = self.source
        self.parser.unreader.unread(data)

    def unbound(self) -> None:
        """Lift the read and write bounds (the connection is upgraded to HTTP/2)."""
        for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
            self.sock.setsockopt(socket.SOL_SOCKET, option, timeval(0))


class Deadlines:
    """When each connection the event loop holds must have moved on, soonest first.

    A connection's `turn` changes whenever it changes hands, which voids its older
    entries; progress moves `deadline` on without a new entry (it is re-filed when due).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int, Client]] = []
        self._order = itertools.count()

    def set(self, conn: Client, deadline: float) -> None:
        conn.deadline = deadline
        heapq.heappush(self._heap, (deadline, next(self._order), conn.turn, conn))

    def soonest(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> Iterator[Client]:
        """The connections whose deadline has passed, each once."""
        while self._heap and self._heap[0][0] <= now:
            _, _, turn, conn = heapq.heappop(self._heap)
            if turn != conn.turn:
                continue
            if conn.deadline > now:
                self.set(conn, conn.deadline)
            else:
                yield conn

    def held(self) -> list[Client]:
        """The connections with a live deadline."""
        return list({id(c): c for _, _, turn, c in self._heap if turn == c.turn}.values())


def error_response(status: int, reason: str, detail: str) -> bytes:
    """A whole HTTP/1.1 response in echoscope's JSON error shape, closing the connection."""
    body = orjson.dumps({"error": reason, "status": status, "detail": detail}) + b"\n"
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def max_head(cfg: Any) -> int:
    """The longest head gunicorn could accept with these limits: past it, it refuses."""
    line = cfg.limit_request_line or 8190
    fields = cfg.limit_request_fields or 32768
    return line + fields * ((cfg.limit_request_field_size or 8190) + 2) + 8


def timeval(seconds: float) -> bytes:
    return struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))


def peer(client: Any) -> str:
    if isinstance(client, tuple) and len(client) >= 2:
        return f"{client[0]}:{client[1]}"
    return str(client)
