"""What gunicorn knows of a request that its WSGI environ does not say, put where the app reads it.

HTTP/2: gunicorn hands the app an HTTP/1-shaped environ. `ProtocolFacts` (a mixin
for gunicorn's threaded worker) adds `environ[HTTP2]`: how HTTP/2 was reached, the
stream id, the pseudo-headers as received (all but `:path`, which is the record's
path and query, redacted in logs) and the header names in the order the client
sent them. It also undoes three artefacts: SERVER_PROTOCOL "HTTP/2.0" becomes
"HTTP/2" (RFC 9113's name; OpenTelemetry's network.protocol.version "2"), the
`Version: 2` header gunicorn adds goes (or is what the client sent), and
`wsgi.url_scheme` is the transport's, as over HTTP/1.1: `:scheme` is shown, never
trusted (X-Forwarded-Proto is trusted only through ECHO_TRUSTED_PROXY_HOPS).

Sessions: on HTTP/1.1, `environ[UPGRADE]` sends `101 Switching Protocols` through
gunicorn's own response writer and hands the view the connection, which gunicorn
closes once the view returns (the view runs the whole session, so its exchange and
span last as long). `environ[STOPPING]` is an Event set when the worker is told to
stop (SIGTERM), so a session can close itself within the grace period.
No Flask here: gunicorn's master loads the worker.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from gunicorn.http.wsgi import Response

HTTP2 = "echoscope.http2"
STOPPING = "echoscope.stopping"
UPGRADE = "echoscope.upgrade"


class ProtocolFacts:
    """Worker mixin (before gunicorn's ThreadWorker): the environ keys above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = threading.Event()
        self._serving = threading.local()

    def load_wsgi(self) -> None:
        super().load_wsgi()  # type: ignore[misc]
        app: Any = getattr(self, "wsgi")  # noqa: B009  (set by gunicorn's load_wsgi)
        self.wsgi = ServerEnviron(app, self.stopping, self._serving)

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.stopping.set()
        super().handle_exit(sig, frame)  # type: ignore[misc]

    def handle_h2c_upgrade(self, conn: Any, req: Any, settings: Any) -> Any:
        conn.echoscope_upgraded = True  # its stream 1 is the HTTP/1.1 request, translated
        return super().handle_h2c_upgrade(conn, req, settings)  # type: ignore[misc]

    def handle_http2_request(self, req: Any, conn: Any, h2_conn: Any) -> None:
        self._serving.http2 = Http2Facts.of(req, conn)
        try:
            super().handle_http2_request(req, conn, h2_conn)  # type: ignore[misc]
        finally:
            self._serving.http2 = None


class ServerEnviron:
    """The app as gunicorn calls it, with the environ completed first; `app` is the app."""

    def __init__(self, app: Any, stopping: threading.Event, serving: threading.local) -> None:
        self.app = app
        self._stopping = stopping
        self._serving = serving

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ[STOPPING] = self._stopping
        facts: Http2Facts | None = getattr(self._serving, "http2", None)
        if facts is not None:
            facts.complete(environ)
        # gunicorn passes its response's bound start_response; an HTTP/2 one (a subclass)
        # writes a stream of a shared connection, which is nobody's to take over.
        response = getattr(start_response, "__self__", None)
        if type(response) is Response:
            environ[UPGRADE] = Switch(response)
        return self.app(environ, start_response)


class Switch:
    """`switch(headers)`: send `101 Switching Protocols` now and get the connection's socket."""

    def __init__(self, response: Response) -> None:
        self._response = response

    def __call__(self, headers: list[tuple[str, str]]) -> socket.socket:
        response = self._response
        response.start_response("101 Switching Protocols", headers)
        response.send_headers()  # gunicorn's head: its Server, Date and Connection: upgrade
        response.force_close()  # once the view returns, the connection is over
        response.status = None  # the app's own start_response (the same 101) follows
        sock: socket.socket = response.sock
        return sock


class Http2Facts:
    """One HTTP/2 request's facts, read from gunicorn's HTTP2Request and its connection."""

    def __init__(self, shown: dict[str, Any], version: list[str], scheme: str) -> None:
        self.shown = shown  # what environ[HTTP2] holds
        self.version = version  # the values of the client's own `version` header fields
        self.scheme = scheme  # the transport's: https only over TLS

    @classmethod
    def of(cls, req: Any, conn: Any) -> Http2Facts:
        stream = req.stream
        regular = stream.get_regular_headers()
        pseudo = stream.get_pseudo_headers()
        shown = {
            "negotiation": _negotiation(conn),
            "stream_id": stream.stream_id,
            "pseudo_headers": {name: value for name, value in pseudo.items() if name != ":path"},
            "header_names": [name for name, _ in regular],
        }
        version = [value for name, value in regular if name == "version"]
        return cls(shown, version, "https" if conn.cfg.is_ssl else "http")

    def complete(self, environ: dict[str, Any]) -> None:
        """Put the facts in `environ` and undo gunicorn's HTTP/1-shaped artefacts."""
        environ[HTTP2] = self.shown
        environ["SERVER_PROTOCOL"] = "HTTP/2"
        if self.version:
            environ["HTTP_VERSION"] = ",".join(self.version)
        else:
            environ.pop("HTTP_VERSION", None)
        environ["wsgi.url_scheme"] = self.scheme


def _negotiation(conn: Any) -> str:
    if getattr(conn, "echoscope_upgraded", False):
        return "upgrade"
    return "alpn" if conn.cfg.is_ssl else "prior-knowledge"
