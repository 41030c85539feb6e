"""Redirects: /redirect/<n>, /relative-redirect/<n>, /absolute-redirect/<n>, /redirect-to.

/redirect-to sends clients only to a relative path on this server or to a host
listed in ECHO_REDIRECT_HOSTS: anything else would make echoscope an open
redirect, so it is a JSON 400 and no Location is ever written.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import BadRequest

from service.echo.locations import is_allowed
from service.exchange.routing import READ, add_strict_rule
from service.httpbin import params, shape
from service.settings import Settings

_REDIRECT_TO_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "TRACE")


def init_app(app: Flask, settings: Settings) -> None:
    """Register the redirect endpoints."""
    views = _Views(settings.max_body_bytes, settings.redirect_hosts)
    add_strict_rule(app, "/redirect/<n>", "httpbin_redirect", views.redirect, READ)
    add_strict_rule(
        app, "/relative-redirect/<n>", "httpbin_relative_redirect", views.relative, READ
    )
    add_strict_rule(
        app, "/absolute-redirect/<n>", "httpbin_absolute_redirect", views.absolute, READ
    )
    add_strict_rule(
        app, "/redirect-to", "httpbin_redirect_to", views.redirect_to, _REDIRECT_TO_METHODS
    )


def redirect(location: str, status: int = 302) -> Response:
    """An empty redirect response to `location`."""
    response = Response(status=status, headers={"Location": location})
    del response.headers["Content-Type"]
    return response


class _Views:
    """The views, holding the body limit and the hosts /redirect-to may name."""

    def __init__(self, max_body_bytes: int, hosts: frozenset[str]) -> None:
        self._limit = max_body_bytes
        self._hosts = hosts

    def redirect(self, n: str) -> Response:
        if params.flag(request, "absolute"):
            return self.absolute(n)
        return self.relative(n)

    def relative(self, n: str) -> Response:
        left = self._count(n) - 1
        return redirect(f"/relative-redirect/{left}" if left else "/get")

    def absolute(self, n: str) -> Response:
        left = self._count(n) - 1
        return redirect(request.host_url + (f"absolute-redirect/{left}" if left else "get"))

    def redirect_to(self) -> Response:
        shape.record(self._limit)
        args = {key.lower(): value for key, value in request.args.items()}  # httpbin: any case
        url = args.get("url")
        if not url:
            raise BadRequest("the url query parameter is required")
        status = params.integer(args.get("status_code", "302"), "status_code", 300, 399)
        if not is_allowed(url, self._hosts):
            raise BadRequest(
                f"url {url[:200]!r} is refused: only paths on this server and the hosts "
                "in ECHO_REDIRECT_HOSTS may be redirected to"
            )
        return redirect(url, status)

    def _count(self, n: str) -> int:
        shape.record(self._limit)
        return params.integer(n, "n", 1, params.MAX_REDIRECTS)
