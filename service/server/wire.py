"""One HTTP/1 exchange on a connection, as the serving thread sees it: body in, answer out.

The worker (service/server/eventloop.py) gives gunicorn a `Wire` as the socket of each
HTTP/1 request and hands it to the app as `environ[connection.ENVIRON_KEY]`.
What goes in: gunicorn's body reader, wrapped so that a body cut short (the
client half-closed, or stalled past ECHO_BODY_TIMEOUT_SECONDS) ends with what
did arrive instead of an error, and says so. What goes out: everything gunicorn
writes passes through `sendall`, where a fault the app asked for changes it,
where the response head waits for the body's first bytes so that both leave in
one send (one syscall, one segment), and where gunicorn's early `100 Continue`
is held back until the app first reads the body (RFC 9110 §10.1.1: no 100 for a
request answered from its head).
No Flask here.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from service.server.connection import SERVER_FAULTS

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
MALFORMED_STATUS_LINE = b"HTTP/1.1 MALFORMED echoscope fault\r\n"
_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST
_COALESCE = 65536  # a first body piece up to this size goes out in one send with the head


class BoundedSource:
    """The socket as gunicorn's HTTP/1 parser reads it: a read that waits too long ends it.

    The socket's SO_RCVTIMEO makes a read that receives nothing for the body
    timeout fail; the parser sees the end of the stream instead, and `stalled`
    says why. The event loop sets `stalled` itself for a body it saw stall.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.stalled = False
        self.ended = False
        self._timeout: float | None = None  # what gunicorn's body drain asked for
        self._applied = False  # whether the socket has it

    # gunicorn bounds the drain of an unread body (parser.finish_body) with settimeout
    # before each read and restores the timeout after: two syscalls per request even when
    # the body was all read. The socket gets the timeout only when a read does happen.

    def gettimeout(self) -> float | None:
        return self._timeout

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout
        if self._applied:
            self._sock.settimeout(timeout)
            self._applied = timeout is not None

    def recv(self, size: int) -> bytes:
        if self.stalled:
            return b""
        if self._timeout is not None and not self._applied:
            self._sock.settimeout(self._timeout)
            self._applied = True
        try:
            data = self._sock.recv(size)
        except (BlockingIOError, TimeoutError):
            self.stalled = True
            return b""
        except OSError:  # reset by the peer: the body ends here too
            data = b""
        self.ended = not data
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class Wire:
    """The socket gunicorn answers one request on, and the connection the app sees."""

    def __init__(self, sock: socket.socket, source: BoundedSource, headers: list[Any]) -> None:
        self.socket = sock
        self._source = source
        self.fault: str | None = None
        self.continue_wanted = False
        self._written = False  # anything (100 Continue included) went out
        self._held: bytes | None = None  # the response head, sent with the first body bytes
        self._body_left: int | None = None  # what `truncate` still sends of the body
        self.body = RecordedBody(source, _body_length(headers), self._before_body)

    # -- the connection, as the app sees it

    @property
    def body_complete(self) -> bool | None:
        return self.body.complete

    @property
    def body_timed_out(self) -> bool:
        return self._source.stalled

    def break_with(self, fault: str) -> None:
        if fault not in SERVER_FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        self.fault = fault

    # -- the socket, as gunicorn's Response writes to it

    def send(self, data: bytes) -> int:
        if data == CONTINUE and not self._written:  # gunicorn's, sent before the app runs
            self.continue_wanted = True
            return len(data)
        self.sendall(data)
        return len(data)

    def sendall(self, data: bytes) -> None:
        if self.fault is None:
            held = self._held
            if held is not None:  # the head, then the body's first bytes: one send
                self._held = None
                if len(data) <= _COALESCE:
                    self.socket.sendall(held + data)
                    return
                self.socket.sendall(held)
            elif not self._written and data[9:10] != b"1":  # the head (not a 1xx): held
                self._written = True
                self._held = data
                return
            self._written = True
            if data:
                self.socket.sendall(data)
        elif self.fault in ("truncate", "malformed"):
            self._send_faulted(data)

    def flush(self) -> None:
        """Send the head still held: the response has no body bytes (or the socket is wanted)."""
        held, self._held = self._held, None
        if held is not None:
            self.socket.sendall(held)

    def __getattr__(self, name: str) -> Any:
        # Anything else done with the socket (sendfile, recv, shutdown …) follows the head.
        self.flush()
        return getattr(self.socket, name)

    def _send_faulted(self, data: bytes) -> None:
        if not self._written:  # the head: status line and fields
            self._written = True
            length = _content_length_of_head(data)
            self._body_left = None if length is None else length // 2
            if self.fault == "malformed":
                data = MALFORMED_STATUS_LINE + data.partition(b"\r\n")[2]
        elif self.fault == "truncate":  # half the body, as announced (or of its first piece)
            if self._body_left is None:
                self._body_left = len(data) // 2
            data, self._body_left = data[: self._body_left], max(0, self._body_left - len(data))
        if data:
            self.socket.sendall(data)

    # -- the end of the exchange

    def _before_body(self) -> None:
        if self.continue_wanted and not self._written:
            self._written = True
            self.socket.sendall(CONTINUE)

    @property
    def closes(self) -> bool:
        """True when the connection cannot serve another request after this one."""
        return bool(self.fault) or self.body.complete is False or self._source.stalled

    def finish(self, keep_alive: bool) -> bool:
        """Carry out a reset; whether the connection can serve another request."""
        if self.fault == "reset":
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _ABORT)
            self.socket.close()
        return keep_alive and not self.closes


class RecordedBody:
    """wsgi.input: gunicorn's body reader, ending with what arrived when the body is cut short."""

    def __init__(self, source: BoundedSource, expected: int | None, before: Any) -> None:
        self._source = source
        self._reader: Any = None
        self._before = before
        self.expected = expected  # the Content-Length; None when chunked
        self.received = 0
        self.complete: bool | None = None

    def wrap(self, reader: Any) -> RecordedBody:
        self._reader = reader
        return self

    def read(self, size: int | None = -1) -> bytes:
        if self.complete is not None or size == 0:
            return b""
        if self.expected == 0:  # no body at all: nothing to ask for (no 100 Continue)
            self.complete = True
            return b""
        self._before()
        try:
            data: bytes = self._reader.read(size)
        except Exception:
            if not (self._source.ended or self._source.stalled):
                raise  # a malformed body, not a short one: the app's 400
            data = self._salvage()
            self.complete = False
        self.received += len(data)
        if self.complete is None:
            self._settle(data, size)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        return self.read(size)  # a body has no lines here; werkzeug reads it in blocks

    def __iter__(self) -> Any:
        return iter(lambda: self.read(65536), b"")

    def _settle(self, data: bytes, size: int | None) -> None:
        cut = self._source.ended or self._source.stalled
        if self.expected is not None and self.received >= self.expected:
            self.complete = True
        elif not data or (cut and (size is None or size < 0 or len(data) < size)):
            self.complete = not cut and self.expected is None

    def _salvage(self) -> bytes:
        # What gunicorn's reader had buffered when the stream ended under it.
        inner = getattr(self._reader, "reader", None)
        parts = [getattr(self._reader, "buf", None), getattr(inner, "buf", None)]
        return b"".join(part.getvalue() for part in parts if part is not None)


def _body_length(headers: list[Any]) -> int | None:
    """The Content-Length; None for a chunked body, 0 for a request with no body."""
    for name, value in headers:
        if name == "TRANSFER-ENCODING":
            return None
        if name == "CONTENT-LENGTH" and str(value).isdigit():
            return int(value)
    return 0


def _content_length_of_head(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return None
