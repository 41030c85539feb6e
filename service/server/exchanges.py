"""The serving thread's side of echoscope's worker: one HTTP/1 exchange per turn.

A mixin placed before gunicorn's ThreadWorker (service/server/eventloop.py's
BoundedWorker): each HTTP/1 exchange is answered on a `wire.Wire`. The
connection then goes back to the event loop, which reads its next request: a
thread never serves a connection's next request itself, even one already
whole, as that starves the connections the loop has not read yet (under wrk
-c16 on 8 threads it raised the p99 latency 1.7-fold, for a throughput gain
within the noise).
No Flask here: the master loads it.
"""

from __future__ import annotations

from typing import Any

from service.server import wire
from service.server.client import Client, Limits, peer
from service.server.connection import ENVIRON_KEY


class Exchanges:
    """Worker mixin (before gunicorn's ThreadWorker): the thread's side of each connection."""

    limits: Limits
    log: Any
    cfg: Any  # the worker's SettledConfig

    def handle_request(self, req: Any, conn: Any) -> bool:
        if not isinstance(conn, Client) or self.cfg.is_ssl:
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
