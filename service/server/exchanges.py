"""The serving thread's side of echoscope's worker: one HTTP/1 exchange, or a few in a row.

A mixin placed before gunicorn's ThreadWorker (service/server/eventloop.py's
BoundedWorker): each HTTP/1 exchange is answered on a `wire.Wire`, and a thread
that finds the connection's next request already whole serves it at once, while
no other connection waits for a thread. No Flask here: the master loads it.
"""

from __future__ import annotations

import itertools
import socket
from typing import Any

from service.server import wire
from service.server.client import Client, Limits, peer
from service.server.connection import ENVIRON_KEY
from service.server.readahead import ReadAhead

_RECV = 65536
_RUN = 8  # requests a thread serves in a row on one connection before it goes back to the loop


class Exchanges:
    """Worker mixin (before gunicorn's ThreadWorker): the thread's side of each connection."""

    limits: Limits
    alive: bool
    log: Any
    _tls: bool
    _max_head: int
    _max_body_ahead: int

    def init_process(self) -> None:
        self._enqueued = 0  # connections given to the pool, and taken by a thread:
        self._starts = itertools.count(1)
        self._started = 0
        super().init_process()  # type: ignore[misc]

    def enqueue_req(self, conn: Any) -> None:
        self._enqueued += 1  # the loop's thread only
        super().enqueue_req(conn)  # type: ignore[misc]

    def handle(self, conn: Any) -> Any:
        self._started = next(self._starts)  # atomic: never drifts from _enqueued
        keep = super().handle(conn)  # type: ignore[misc]
        if not isinstance(conn, Client) or self._tls:
            return keep
        served = 1
        while keep is True and served < _RUN and self._idle() and self._next_is_whole(conn):
            keep = super().handle(conn)  # type: ignore[misc]
            served += 1
        return keep

    def _idle(self) -> bool:
        """No other connection is waiting for a thread (so running on is fair)."""
        return self._enqueued <= self._started

    def _next_is_whole(self, conn: Client) -> bool:
        """Whether the connection's next request (head, small body) has arrived already.

        A client that sends its next request as soon as it has the answer often has
        it here by the time the thread is done: serving it now saves the trip through
        the loop (a wake-up, two epoll_ctl, a read there and a hand-over). Only a
        request that is whole is served so; anything less goes back to the loop with
        what arrived, which bounds its reading as usual. Never while stopping.
        """
        if not self.alive or conn.is_http2 or conn.source.stalled or conn.sock.fileno() < 0:
            return False
        data = conn.parser.unreader.take_buffered()  # pipelined behind the last one
        try:
            data += conn.sock.recv(_RECV, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:  # reset: the loop finds out
            pass
        if not data:
            return False
        conn.parser.unreader.unread(data)
        return ReadAhead(self._max_head, self._max_body_ahead).feed(data)

    def handle_request(self, req: Any, conn: Any) -> bool:
        if not isinstance(conn, Client) or self._tls:
            return bool(super().handle_request(req, conn))  # type: ignore[misc]
        exchange = wire.Wire(conn.sock, conn.source, req.headers)
        conn.sock = exchange  # what gunicorn answers on, and the app's environ[ENVIRON_KEY]
        try:
            keep = bool(super().handle_request(req, conn))  # type: ignore[misc]
            exchange.flush()  # a head with no body bytes after it
        except BlockingIOError:  # SO_SNDTIMEO: the peer stopped reading its answer
            timeout = self.limits.body_timeout
            self.log.warning(
                "%s read none of its response for %gs: closed", peer(conn.client), timeout
            )
            keep = False
        finally:
            conn.sock = exchange.socket
        return exchange.finish(keep)

    def handle_h2c_upgrade(self, conn: Any, req: Any, settings: Any) -> Any:
        if isinstance(conn, Client):  # HTTP/2 from here on: gunicorn's own reads, unbounded
            conn.unbound()
        return super().handle_h2c_upgrade(conn, req, settings)  # type: ignore[misc]


class Serving:
    """The WSGI app, given each HTTP/1 request's Wire and its bounded body reader; `app` is it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        exchange = environ.get("gunicorn.socket")
        if not isinstance(exchange, wire.Wire):
            return self.app(environ, start_response)
        environ[ENVIRON_KEY] = exchange
        environ["wsgi.input"] = exchange.body.wrap(environ["wsgi.input"])
        result = self.app(environ, start_response)
        response = getattr(start_response, "__self__", None)  # gunicorn's Response
        if exchange.closes and response is not None:  # say `Connection: close` on its answer
            response.force_close()
        return result
