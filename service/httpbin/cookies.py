"""Cookies: /cookies, /cookies/set, /cookies/set/<name>/<value>, /cookies/delete."""

from __future__ import annotations

import re

from flask import Flask, Response, request
from werkzeug.exceptions import BadRequest

from service.exchange.routing import READ, add_strict_rule
from service.httpbin import shape
from service.settings import Settings

# RFC 6265 cookie-name: a token. Anything else could smuggle attributes (`a;Domain=x`).
_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def init_app(app: Flask, settings: Settings) -> None:
    """Register the cookie endpoints; setting and deleting redirect to /cookies, as httpbin's."""
    views = _Views(settings.max_body_bytes)
    add_strict_rule(app, "/cookies", "httpbin_cookies", views.cookies, READ)
    add_strict_rule(app, "/cookies/set", "httpbin_cookies_set", views.set_from_query, READ)
    add_strict_rule(app, "/cookies/set/<name>/<value>", "httpbin_cookie_set", views.set_one, READ)
    add_strict_rule(app, "/cookies/delete", "httpbin_cookies_delete", views.delete, READ)


class _Views:
    """The views, holding the body limit."""

    def __init__(self, max_body_bytes: int) -> None:
        self._limit = max_body_bytes

    def cookies(self) -> Response:
        return shape.json_response({"cookies": shape.record(self._limit)["cookies"]})

    def set_from_query(self) -> Response:
        shape.record(self._limit)
        return _set(list(request.args.items()))

    def set_one(self, name: str, value: str) -> Response:
        shape.record(self._limit)
        return _set([(name, value)])

    def delete(self) -> Response:
        shape.record(self._limit)
        response = _to_cookies()
        for name in request.args:
            response.delete_cookie(_checked(name), secure=request.scheme == "https")
        return response


def _set(pairs: list[tuple[str, str]]) -> Response:
    response = _to_cookies()
    for name, value in pairs:
        response.set_cookie(_checked(name), value, secure=request.scheme == "https")
    return response


def _checked(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise BadRequest(f"cookie name {name[:64]!r} is not an RFC 6265 token")
    return name


def _to_cookies() -> Response:
    response = Response(status=302, headers={"Location": "/cookies"})
    del response.headers["Content-Type"]
    return response
