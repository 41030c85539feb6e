"""Compressed responses: /gzip, /deflate, /brotli (whatever Accept-Encoding says, as httpbin)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from typing import Any

import orjson
from flask import Flask, Response

from service.exchange.routing import READ, add_strict_rule
from service.httpbin import shape
from service.settings import Settings

# Content-Encoding, the flag psf/httpbin sets in the body, and the encoder.
_CODINGS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "gzip": ("gzipped", lambda data: gzip.compress(data, mtime=0)),
    "deflate": ("deflated", zlib.compress),  # HTTP's "deflate" is the zlib format (RFC 9110)
    "br": ("brotli", lambda data: _brotli().compress(data)),
}
_PATHS = {"gzip": "/gzip", "deflate": "/deflate", "br": "/brotli"}


def _brotli() -> Any:
    import brotli  # only when a brotli response is asked for

    return brotli


def init_app(app: Flask, settings: Settings) -> None:
    """Register /gzip, /deflate and /brotli."""
    for coding, path in _PATHS.items():
        view = _view(settings.max_body_bytes, coding)
        add_strict_rule(app, path, f"httpbin_{path[1:]}", view, READ)


def _view(limit: int, coding: str) -> Callable[[], Response]:
    flag, encode = _CODINGS[coding]

    def compressed() -> Response:
        rec = shape.record(limit)
        body = {"headers": rec["headers"], "method": rec["method"], "origin": rec["client_ip"]}
        plain = orjson.dumps(
            {**body, flag: True}, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
        )
        response = Response(encode(plain + b"\n"), mimetype=shape.JSON)
        response.headers["Content-Encoding"] = coding
        return response

    return compressed
