"""CORS: `*` for anyone (no credentials), or a list of origins allowed with credentials."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask, Response, request

from service.settings import Settings

_EXPOSED = "X-Request-Id, traceresponse"


def init_app(app: Flask, settings: Settings) -> None:
    """Answer preflights and add CORS headers to every response (none when the setting is empty)."""
    origins = tuple(part.strip() for part in settings.cors_origin.split(",") if part.strip())
    if not origins:
        return
    allowed = _allowed_origin(origins)
    app.before_request(_preflight(allowed))
    app.after_request(_headers(allowed, wildcard="*" in origins))


def websocket_origin_check(cors_origin: str) -> Callable[[str, str], bool]:
    """`allowed(origin, host)`: may a page from `origin` open a WebSocket to `host`?

    CORS does not cover WebSockets (a browser connects whatever the server answers),
    so the server checks Origin by the same setting: `*` lets every page in, a list
    the listed origins, and every setting the pages of this host. Clients that send
    no Origin (not browsers) are not asked.
    """
    origins = frozenset(part.strip() for part in cors_origin.split(",") if part.strip())

    def allowed(origin: str, host: str) -> bool:
        return "*" in origins or origin in origins or urlsplit(origin).netloc == host

    return allowed


def _allowed_origin(origins: tuple[str, ...]) -> Callable[[str | None], str | None]:
    """The Access-Control-Allow-Origin value for a request's Origin, or None."""
    if "*" in origins:
        return lambda _: "*"
    listed = frozenset(origins)
    return lambda origin: origin if origin in listed else None


def _preflight(allowed: Callable[[str | None], str | None]) -> Callable[[], Response | None]:
    def preflight() -> Response | None:
        if request.method != "OPTIONS":
            return None
        wanted_method = request.headers.get("Access-Control-Request-Method")
        if wanted_method is None:
            return None
        if allowed(request.headers.get("Origin")) is None:
            return None  # an unlisted origin's preflight is echoed like any OPTIONS
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = wanted_method
        wanted_headers = request.headers.get("Access-Control-Request-Headers")
        if wanted_headers:
            response.headers["Access-Control-Allow-Headers"] = wanted_headers
        response.headers["Access-Control-Max-Age"] = "86400"
        return response

    return preflight


def _headers(
    allowed: Callable[[str | None], str | None], wildcard: bool
) -> Callable[[Response], Response]:
    def add(response: Response) -> Response:
        if response.status_code == 101:  # a WebSocket's: CORS does not apply (see above)
            return response
        if not wildcard:
            response.vary.add("Origin")
        # The header straight from the environ, as werkzeug's EnvironHeaders.get finds it.
        origin = allowed(request.environ.get("HTTP_ORIGIN"))
        if origin is None:
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = _EXPOSED
        if not wildcard:
            response.headers["Access-Control-Allow-Credentials"] = "true"
        return response

    return add
