"""Images: /image (by the Accept header) and /image/png, /image/jpeg, /image/webp, /image/svg.

The SVG is a fixed file of echoscope's own, so it keeps image/svg+xml as in
httpbin; no client input ever reaches an image.
"""

from __future__ import annotations

import functools

from flask import Flask, Response, request
from werkzeug.exceptions import NotAcceptable

from service.exchange.routing import READ, add_strict_rule
from service.httpbin import shape
from service.httpbin.documents import ASSETS
from service.settings import Settings

# kind: (file, Content-Type), in psf/httpbin's order of preference for /image
_IMAGES = {
    "webp": ("image.webp", "image/webp"),
    "svg": ("image.svg", "image/svg+xml"),
    "jpeg": ("image.jpeg", "image/jpeg"),
    "png": ("image.png", "image/png"),
}
_PNG_TOO = ("image/*", "*/*")  # go-httpbin answers image/* with PNG; so does echoscope for */*


def init_app(app: Flask, settings: Settings) -> None:
    """Register /image and one route per image kind."""
    views = _Views(settings.max_body_bytes)
    add_strict_rule(app, "/image", "httpbin_image", views.negotiated, READ)
    for kind in _IMAGES:
        view = functools.partial(views.image, kind)
        add_strict_rule(app, f"/image/{kind}", f"httpbin_image_{kind}", view, READ)


class _Views:
    """The images, read once, and the body limit."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._bodies = {kind: (ASSETS / name).read_bytes() for kind, (name, _) in _IMAGES.items()}

    def negotiated(self) -> Response:
        accept = request.headers.get("Accept", "").lower()
        if not accept:
            return self.image("png")
        for kind, (_, content_type) in _IMAGES.items():
            if content_type in accept:
                return self.image(kind)
        if any(wildcard in accept for wildcard in _PNG_TOO):
            return self.image("png")
        raise NotAcceptable(
            f"Accept {accept[:200]!r} names none of {', '.join(t for _, t in _IMAGES.values())}"
        )

    def image(self, kind: str) -> Response:
        """The image of `kind`, after capturing the record."""
        shape.record(self._limit)
        return shape.text_response(self._bodies[kind], _IMAGES[kind][1])
