"""Fixed documents: /html, /xml, /json, /robots.txt, /deny, /encoding/utf8, /forms/post, /links.

Each is chosen by the server, never built from request input, so /html,
/encoding/utf8 and /forms/post keep text/html and /xml keeps application/xml as
in httpbin: there is nothing of the client's in them to run. /links pages hold
only numbers.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response

from service.exchange.routing import READ, add_strict_rule
from service.httpbin import params, shape
from service.httpbin.redirects import redirect
from service.settings import Settings

ASSETS = Path(__file__).with_name("assets")
ROBOTS_TXT = "User-agent: *\nDisallow: /deny\n"
DENIED = "YOU SHOULDN'T BE HERE\n\nThis page is disallowed by /robots.txt.\n"
# path, endpoint, asset, Content-Type
_DOCUMENTS = (
    ("/html", "httpbin_html", "moby.html", shape.HTML),
    ("/xml", "httpbin_xml", "sample.xml", "application/xml"),
    ("/json", "httpbin_json", "sample.json", shape.JSON),
    ("/encoding/utf8", "httpbin_encoding_utf8", "utf8.html", shape.HTML),
    ("/forms/post", "httpbin_forms_post", "forms-post.html", shape.HTML),
)


def init_app(app: Flask, settings: Settings) -> None:
    """Register the fixed documents and the /links pages."""
    limit = settings.max_body_bytes
    for path, endpoint, asset, content_type in _DOCUMENTS:
        view = _Document(limit, (ASSETS / asset).read_bytes(), content_type).view
        add_strict_rule(app, path, endpoint, view, READ)
    add_strict_rule(
        app, "/robots.txt", "httpbin_robots_txt", _Document(limit, ROBOTS_TXT).view, READ
    )
    add_strict_rule(app, "/deny", "httpbin_deny", _Document(limit, DENIED).view, READ)
    links = _Links(limit)
    add_strict_rule(app, "/links/<n>", "httpbin_links", links.first, READ)
    add_strict_rule(app, "/links/<n>/<offset>", "httpbin_links_page", links.page, READ)


class _Document:
    """One fixed body of one media type."""

    def __init__(self, limit: int, body: bytes | str, content_type: str = shape.TEXT) -> None:
        self._limit, self._body, self._content_type = limit, body, content_type

    def view(self) -> Response:
        shape.record(self._limit)
        return shape.text_response(self._body, self._content_type)


class _Links:
    """psf/httpbin's pages of n links, each page linking to the others."""

    def __init__(self, limit: int) -> None:
        self._limit = limit

    def first(self, n: str) -> Response:
        shape.record(self._limit)
        return redirect(f"/links/{params.integer(n, 'n', 0, params.MAX_LINKS)}/0")

    def page(self, n: str, offset: str) -> Response:
        shape.record(self._limit)
        count = params.integer(n, "n", 0, params.MAX_LINKS)
        current = params.integer(offset, "offset", 0, params.MAX_LINKS)
        links = "".join(
            f"{i} " if i == current else f"<a href='/links/{count}/{i}'>{i}</a> "
            for i in range(count)
        )
        page = f"<html><head><title>Links</title></head><body>{links}</body></html>"
        return shape.text_response(page, shape.HTML)
