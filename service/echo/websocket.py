"""/websocket/echo: go-httpbin's WebSocket echo, as one exchange per session.

The view checks the handshake, the parameters and the bounds while a JSON error
can still be answered, then has the server switch protocols and runs the whole
session (service/echo/wssession.py) itself: the session's exchange, span and line
last as long as it does, and end with status 101. `?record=true` sends the echo
record of the upgrade request as the first message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import orjson
from flask import Flask, Request, Response, request
from werkzeug import exceptions
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, Forbidden, ServiceUnavailable

from service.echo import cors
from service.exchange import pipeline, routing
from service.server import environ
from service.settings import Settings

if TYPE_CHECKING:  # wsproto (~120M instructions at start) only at the first WebSocket
    from service.echo.wssession import Limits

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
Switch = Callable[[list[tuple[str, str]]], socket.socket]  # sends the 101, hands over the socket


def init_app(app: Flask, settings: Settings) -> None:
    """Register /websocket/echo (GET only)."""
    view = _WebSocketEcho(settings)
    routing.add_strict_rule(app, "/websocket/echo", "websocket_echo", view.echo, ("GET",))
    # werkzeug matches an upgrade request only to a websocket rule: the same view for it
    app.url_map.add(
        app.url_rule_class("/websocket/echo", endpoint="websocket_echo", websocket=True)
    )


class _WebSocketEcho:
    """The view, holding the bounds and this worker's count of open sessions."""

    def __init__(self, settings: Settings) -> None:
        self._max_body = settings.max_body_bytes
        self._max_seconds = settings.websocket_max_seconds
        self._origin_allowed = cors.websocket_origin_check(settings.cors_origin)
        self._sessions = _Capacity(settings.threads // 2)  # the other half serve requests

    def echo(self) -> Response:
        limits, send_record, accept = self._checked(request)
        switch = _switch_of(request)
        current = pipeline.current()
        first = orjson.dumps(current.echo_record(self._max_body)).decode() if send_record else None
        headers = _switching_headers(accept, current)
        from service.echo.wssession import Session  # wsproto: loaded by the first session

        with self._sessions.slot():
            stopping: threading.Event | None = request.environ.get(environ.STOPPING)
            current.note_session(Session(switch(headers), limits, stopping).run(first))
        return _switched(headers)

    def _checked(self, req: Request) -> tuple[Limits, bool, str]:
        """The session's limits, ?record and the accept token; a JSON 4xx for anything amiss."""
        _require_http11(req)
        limits = limits_of(req.args, self._max_body, self._max_seconds)
        send_record = _flag(req.args, "record")
        accept = accept_token(req)
        origin = req.headers.get("Origin")
        if origin is not None and not self._origin_allowed(origin, req.host):
            raise Forbidden(f"Origin {origin[:200]!r} may not open a WebSocket here")
        return limits, send_record, accept


def limits_of(args: MultiDict[str, str], max_body: int, max_seconds: float) -> Limits:
    """max_fragment_size and max_message_size as go-httpbin takes them (a 400 otherwise)."""
    fragment = _size(args, "max_fragment_size", max_body // 2 or 1, max_body)
    message = _size(args, "max_message_size", max_body or 1, max_body)
    if fragment > message:
        raise BadRequest(
            f"max_fragment_size {fragment} must be less than or equal to max_message_size {message}"
        )
    from service.echo.wssession import Limits  # wsproto: loaded by the first session

    return Limits(fragment, message, max_seconds)


def accept_token(req: Request) -> str:
    """Sec-WebSocket-Accept for a valid opening handshake (RFC 6455 §4.2.1), else a 400."""
    if req.headers.get("Upgrade", "").strip().lower() != "websocket":
        raise BadRequest("missing required `Upgrade: websocket` header")
    tokens = {part.strip().lower() for part in req.headers.get("Connection", "").split(",")}
    if "upgrade" not in tokens:
        raise BadRequest("missing required `Connection: Upgrade` header")
    version = req.headers.get("Sec-WebSocket-Version", "")
    if version != "13":
        raise BadRequest(f'only websocket version "13" is supported, got {version[:20]!r}')
    key = req.headers.get("Sec-WebSocket-Key", "").strip()
    try:
        valid = len(base64.b64decode(key, validate=True)) == 16
    except binascii.Error:
        valid = False
    if not valid:
        raise BadRequest("Sec-WebSocket-Key must be 16 bytes in base64")
    return base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()


def _switch_of(req: Request) -> Switch:
    switch: Switch | None = req.environ.get(environ.UPGRADE)
    if switch is None:  # not gunicorn's worker (a test client), or an HTTP/2 stream
        raise exceptions.NotImplemented("this server cannot hand the connection over")
    return switch


def _require_http11(req: Request) -> None:
    protocol = req.environ.get("SERVER_PROTOCOL", "")
    if protocol != "HTTP/1.1":
        raise BadRequest(
            f"a WebSocket opens with an HTTP/1.1 upgrade; this request came over {protocol[:16]}"
            " (WebSocket over HTTP/2, RFC 8441, is not served)"
        )


def _size(args: MultiDict[str, str], name: str, default: int, max_body: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit():
        raise BadRequest(f"invalid {name}: {raw[:40]!r} is not an integer")
    value = int(raw)
    if not 1 <= value <= max_body:
        raise BadRequest(f"invalid {name}: {value} not in range [1, {max_body}]")
    return value


def _flag(args: MultiDict[str, str], name: str) -> bool:
    raw = args.get(name, "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise BadRequest(f"invalid {name}: {raw[:40]!r} (true or false)")
    return raw in ("true", "1")


def _switching_headers(accept: str, current: pipeline.Exchange) -> list[tuple[str, str]]:
    # The headers every response carries go on the 101 too: it is the only response.
    headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept),
        ("X-Request-Id", current.request_id),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if current.trace is not None:
        headers.append(("traceresponse", current.trace.traceresponse))
    return headers


def _switched(headers: list[tuple[str, str]]) -> Response:
    """The exchange's response as sent: the 101 (gunicorn writes nothing more)."""
    response = Response(status=101, headers=headers)
    del response.headers["Content-Type"]
    return response


class _Capacity:
    """At most `limit` sessions at once in this worker; past it a JSON 503 before the 101."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._held = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self._held >= self._limit:
                raise ServiceUnavailable(
                    f"{self._held} WebSocket sessions are open in this worker, its most "
                    "(half of ECHO_THREADS); try again later",
                    retry_after=1,
                )
            self._held += 1
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1
