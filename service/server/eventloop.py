"""gunicorn's threaded worker, every read bounded: a client that stops sending holds no thread.

gunicorn 27's gthread worker gives a connection to a thread as soon as it is
readable; the thread then reads the request head and body with blocking reads,
so a few clients that send half a head (or half a body) and stop hold every
thread for as long as they like. Here the worker's event loop reads each
request (service/server/readahead.py) without blocking, and a thread is taken only
once the head and a small body have arrived:

- the head must be complete within ECHO_HEADER_TIMEOUT_SECONDS of the first
  byte being awaited; past it the connection gets a JSON 408 and is closed, with
  one WARNING line naming the peer;
- a body read ahead that makes no progress for ECHO_BODY_TIMEOUT_SECONDS goes to
  a thread as it is, marked stalled: the app answers 408 and logs what arrived;
- bodies left to the thread (over 1 MiB, or sent after 100 Continue) and the
  response are bounded the same way by SO_RCVTIMEO / SO_SNDTIMEO;
- connections are closed without blocking the loop (gunicorn lingers up to 2 s
  in it for a peer that does not close its side).

TLS connections keep gunicorn's own handling. No Flask here: the master loads it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import heapq
import itertools
import selectors
import socket
import struct
import time
from functools import partial
from typing import Any

import orjson
from gunicorn import http
from gunicorn.http.errors import InvalidH2CPreface
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

from service.server import wire
from service.server.connection import ENVIRON_KEY
from service.server.readahead import MAX_BODY_AHEAD, Phase, ReadAhead

_LINGER = 2.0  # how long a closing connection may take to close its side (gunicorn's)
_STOP_LINGER = 2.0  # how long a stopping worker waits for a request still arriving
_RECV = 65536


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """The read bounds (ECHO_HEADER_TIMEOUT_SECONDS, ECHO_BODY_TIMEOUT_SECONDS)."""

    header_timeout: float = 10.0
    body_timeout: float = 15.0
    max_body: int = 10_485_760  # ECHO_MAX_BODY_BYTES: a longer body is refused from the head


class Connection(TConn):  # type: ignore[misc]
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

    def init(self) -> None:
        if self.initialized or self.cfg.is_ssl:
            super().init()
            return
        self.initialized = True
        self.sock.setblocking(True)
        timeout = _timeval(self.limits.body_timeout)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout)
        data, self.handed = self.handed, b""
        if negotiation.prior_knowledge_allowed(self.cfg, self.client):
            if negotiation.preface_match(data) == negotiation.MATCH:
                self.is_http2 = True
                self.parser = http.get_parser(self.cfg, self.sock, self.client, True)
                self.parser.initiate_connection()
                self.parser.receive_data(data)
                return
            if negotiation.mismatch_is_error(self.cfg):
                raise InvalidH2CPreface(data)
        self.parser = http.get_parser(self.cfg, self.sock, self.client)
        self.parser.unreader.sock = self.source
        self.parser.unreader.unread(data)


class BoundedWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, reading each request head (and small body) in its event loop."""

    limits = Limits()  # a configured subclass replaces it (config/gunicorn.conf.py)
    wsgi: Any  # gunicorn's: the app

    def init_process(self) -> None:
        self._expiries: list[tuple[float, int, int, Connection]] = []
        self._order = itertools.count()
        self._max_head = _max_head(self.cfg)
        self._stopping = False
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = _with_connection(self.wsgi)

    # -- the event loop: reading

    def accept(self, listener: socket.socket) -> None:
        if self.cfg.is_ssl:
            super().accept(listener)
            return
        try:
            sock, client = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = Connection(self.cfg, sock, client, listener.getsockname(), self.limits)
        self._read_head(conn, b"")

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection has bytes: its next request is read here, not in a thread."""
        if self.cfg.is_ssl:
            super().on_client_socket_readable(conn, client)
            return
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_head(conn, b"")

    def _read_head(self, conn: Connection, data: bytes) -> None:
        conn.ahead = ReadAhead(self._max_head, min(MAX_BODY_AHEAD, self.limits.max_body))
        conn.turn += 1
        timeout = self.limits.header_timeout if self.alive else _STOP_LINGER
        self._expire_at(conn, time.monotonic() + timeout)
        if data and conn.ahead.feed(data):
            self._hand_over(conn)
            return
        conn.sock.setblocking(False)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn: Connection, _: Any) -> None:
        try:
            data = conn.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        ahead = conn.ahead
        assert ahead is not None
        if not data and ahead.phase is not Phase.BODY:  # gone before a whole head: nothing to say
            self.poller.unregister(conn.sock)
            self._drop(conn)
            return
        was = ahead.phase
        if not data or ahead.feed(data):  # the end of a body cut short is the app's to report
            self.poller.unregister(conn.sock)
            self._hand_over(conn)
        elif ahead.phase is Phase.BODY:  # progress: the body's clock starts again
            conn.deadline = time.monotonic() + self.limits.body_timeout
            if was is Phase.HEAD:
                self._expire_at(conn, conn.deadline)

    # -- the thread: one HTTP/1 exchange

    def handle_request(self, req: Any, conn: Any) -> bool:
        if not isinstance(conn, Connection) or self.cfg.is_ssl:
            return bool(super().handle_request(req, conn))
        exchange = wire.Wire(conn.sock, conn.source, req.headers)
        conn.sock = exchange  # what gunicorn answers on, and the app's environ[ENVIRON_KEY]
        try:
            keep = bool(super().handle_request(req, conn))
        except BlockingIOError:  # SO_SNDTIMEO: the peer stopped reading its answer
            self.log.warning(
                "%s read none of its response for %gs: closed",
                _peer(conn.client),
                self.limits.body_timeout,
            )
            keep = False
        finally:
            conn.sock = exchange.socket
        return exchange.finish(keep)

    def _hand_over(self, conn: Connection) -> None:
        assert conn.ahead is not None
        data, conn.ahead = bytes(conn.ahead.data), None
        conn.turn += 1
        if conn.initialized:
            conn.parser.unreader.unread(data)
        else:
            conn.handed = data
        conn.data_ready = True
        self.enqueue_req(conn)

    # -- deadlines

    def _expire_at(self, conn: Connection, deadline: float) -> None:
        conn.deadline = deadline
        heapq.heappush(self._expiries, (deadline, next(self._order), conn.turn, conn))

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self._expiries:
            timeout = max(0.0, min(timeout, self._expiries[0][0] - time.monotonic()))
        super().wait_for_and_dispatch_events(timeout)

    def murder_pending(self) -> None:
        super().murder_pending()
        if not self.alive and not self._stopping:
            self._stopping = True
            self._hurry()
        now = time.monotonic()
        while self._expiries and self._expiries[0][0] <= now:
            _, _, turn, conn = heapq.heappop(self._expiries)
            if turn != conn.turn:
                continue
            if conn.deadline > now:  # moved on by progress
                self._expire_at(conn, conn.deadline)
            else:
                self._time_out(conn)

    def _hurry(self) -> None:
        """Stopping: a request still arriving gets a little time, an idle connection none."""
        now = time.monotonic()
        for _, _, turn, conn in list(self._expiries):
            if turn == conn.turn and not conn.closing:
                conn.deadline = min(conn.deadline, now + _STOP_LINGER)
                if conn.ahead is not None and not conn.ahead.data:
                    conn.deadline = now
                self._expire_at(conn, conn.deadline)

    def _time_out(self, conn: Connection) -> None:
        self.poller.unregister(conn.sock)
        if conn.closing:
            self._drop(conn)
            return
        ahead = conn.ahead
        assert ahead is not None
        if ahead.phase is Phase.BODY:  # the app answers 408 with what did arrive
            conn.source.stalled = True
            self._hand_over(conn)
            return
        if self.alive or ahead.data:
            self._refuse_slow_head(conn, len(ahead.data))
        self._close(conn)

    def _refuse_slow_head(self, conn: Connection, arrived: int) -> None:
        timeout = self.limits.header_timeout
        self.log.warning(
            "request head from %s not complete after %gs (%d bytes arrived): closed with 408",
            _peer(conn.client),
            timeout,
            arrived,
        )
        detail = f"The request line and headers did not arrive within {timeout:g} seconds."
        with contextlib.suppress(OSError):  # small: it fits the socket's buffer, or is lost
            conn.sock.send(error_response(408, "Request Timeout", detail))

    # -- closing, without blocking the loop

    def finish_request(self, conn: Any, fs: Any) -> None:
        if self.cfg.is_ssl:
            super().finish_request(conn, fs)
            return
        try:
            keep = bool(fs.result()) if not fs.cancelled() else False
        except Exception:
            keep = False
        if not keep or conn.source.stalled or conn.sock.fileno() < 0:
            self._close(conn)
            return
        leftover = conn.parser.unreader.take_buffered()
        if leftover:  # pipelined: the next request is (partly) here already
            self._read_head(conn, leftover)
            return
        conn.sock.setblocking(False)
        conn.set_timeout()
        if not self.alive:
            conn.timeout = min(conn.timeout, time.monotonic() + _STOP_LINGER)
        self.keepalived_conns.append(conn)
        self.poller.register(
            conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn)
        )

    def _close(self, conn: Connection) -> None:
        """Send FIN, then let the peer close its side (or the linger expire) in the loop."""
        conn.turn += 1
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_closing, conn))
        except (OSError, ValueError):
            self._drop(conn)
            return
        conn.closing = True
        self._expire_at(conn, time.monotonic() + _LINGER)

    def _on_closing(self, conn: Connection, _: Any) -> None:
        try:
            if conn.sock.recv(_RECV):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self.poller.unregister(conn.sock)
        self._drop(conn)

    def _drop(self, conn: Connection) -> None:
        conn.turn += 1
        self.nr_conns -= 1
        conn.close()


def _with_connection(app: Any) -> Any:
    """The WSGI app, given each HTTP/1 request's Wire and its bounded body reader."""

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        exchange = environ.get("gunicorn.socket")
        if not isinstance(exchange, wire.Wire):
            return app(environ, start_response)
        environ[ENVIRON_KEY] = exchange
        environ["wsgi.input"] = exchange.body.wrap(environ["wsgi.input"])
        result = app(environ, start_response)
        response = getattr(start_response, "__self__", None)  # gunicorn's Response
        if exchange.closes and response is not None:  # say `Connection: close` on its answer
            response.force_close()
        return result

    return serve


def error_response(status: int, reason: str, detail: str) -> bytes:
    """A whole HTTP/1.1 response in echoscope's JSON error shape, closing the connection."""
    body = orjson.dumps({"error": reason, "status": status, "detail": detail}) + b"\n"
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _max_head(cfg: Any) -> int:
    """The longest head gunicorn could accept with these limits: past it, it refuses."""
    line = cfg.limit_request_line or 8190
    fields = cfg.limit_request_fields or 32768
    return line + fields * ((cfg.limit_request_field_size or 8190) + 2) + 8


def _timeval(seconds: float) -> bytes:
    return struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))


def _peer(client: Any) -> str:
    if isinstance(client, tuple) and len(client) >= 2:
        return f"{client[0]}:{client[1]}"
    return str(client)
