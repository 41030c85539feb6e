"""Generated data: /bytes/<n>, /stream-bytes/<n> (seeded as psf/httpbin's), /unstable."""

from __future__ import annotations

import random
from collections.abc import Iterator

from flask import Flask, Response, request
from werkzeug.exceptions import InternalServerError

from service.exchange.routing import READ, add_strict_rule
from service.httpbin import params, shape
from service.settings import Settings

OCTETS = "application/octet-stream"


def init_app(app: Flask, settings: Settings) -> None:
    """Register /bytes/<n>, /stream-bytes/<n> and /unstable."""
    views = _Views(settings.max_body_bytes)
    add_strict_rule(app, "/bytes/<n>", "httpbin_bytes", views.bytes_, READ)
    add_strict_rule(app, "/stream-bytes/<n>", "httpbin_stream_bytes", views.stream_bytes, READ)
    add_strict_rule(app, "/unstable", "httpbin_unstable", views.unstable, READ)


def random_bytes(rng: random.Random, n: int) -> bytes:
    """`n` bytes from `rng`, the very bytes psf/httpbin answers for the same seed."""
    return bytes(rng.randint(0, 255) for _ in range(n))


class _Views:
    """The views, holding the body limit."""

    def __init__(self, max_body_bytes: int) -> None:
        self._limit = max_body_bytes

    def bytes_(self, n: str) -> Response:
        shape.record(self._limit)
        size = params.integer(n, "n", 0, params.MAX_BYTES)
        return Response(random_bytes(params.rng(request), size), mimetype=OCTETS)

    def stream_bytes(self, n: str) -> Response:
        shape.record(self._limit)
        size = params.integer(n, "n", 0, params.MAX_BYTES)
        chunk = params.chunk_size(request, size)
        return shape.stream(_chunks(params.rng(request), size, chunk), OCTETS)

    def unstable(self) -> Response:
        shape.record(self._limit)
        failure_rate = 0.5
        if "failure_rate" in request.args:
            failure_rate = params.fraction(request.args["failure_rate"], "failure_rate")
        if params.rng(request).random() < failure_rate:
            raise InternalServerError(f"failed on purpose (failure_rate={failure_rate:g})")
        return shape.json_response({"failure_rate": failure_rate, "status": 200})


def _chunks(rng: random.Random, size: int, chunk: int) -> Iterator[bytes]:
    for start in range(0, size, chunk):
        yield random_bytes(rng, min(chunk, size - start))
