"""Responses the caller writes: /base64/<value>, /base64/<operation>/<value>, /response-headers.

The caller picks the Content-Type here, so service.echo.mediatypes refuses the types
a browser would run (HTML, SVG, XML …) unless ECHO_UNSAFE_CONTENT_TYPES=true:
echoscope's origin never serves a caller's script. Header names must be tokens
and values printable, and the headers that frame the message stay the server's.
"""

from __future__ import annotations

import base64
import re

import orjson
from flask import Flask, Response, request
from werkzeug.exceptions import BadRequest

from service.echo import mediatypes, reply
from service.exchange.routing import READ, add_strict_rule
from service.httpbin import shape
from service.settings import Settings

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VALUE = re.compile(r"[\t\x20-\x7e]*")
_FRAMING = frozenset(
    {"connection", "content-length", "keep-alive", "proxy-connection", "te", "trailer",
     "transfer-encoding", "upgrade"}
)  # fmt: skip


def init_app(app: Flask, settings: Settings) -> None:
    """Register /base64 (decode, or encode/decode by name) and /response-headers."""
    views = _Views(settings.max_body_bytes, settings.unsafe_content_types)
    add_strict_rule(app, "/base64/<value>", "httpbin_base64", views.base64, READ)
    add_strict_rule(app, "/base64/<operation>/<value>", "httpbin_base64_op", views.base64, READ)
    add_strict_rule(
        app, "/response-headers", "httpbin_response_headers", views.response_headers,
        ("GET", "HEAD", "POST"),
    )  # fmt: skip


def decode(value: str) -> bytes:
    """Base64 in either alphabet (URL-safe or standard), padding optional; a 400 otherwise."""
    try:
        if not value:
            raise reply.NotBase64(None)
        return reply.decode_base64(value)
    except reply.NotBase64 as error:
        why = f": {error.reason}" if error.reason else ""
        raise BadRequest(f"{value[:64]!r} is not base64{why}") from None


class _Views:
    """The views, holding the body limit and whether active content types are allowed."""

    def __init__(self, max_body_bytes: int, unsafe_allowed: bool) -> None:
        self._limit = max_body_bytes
        self._unsafe_allowed = unsafe_allowed

    def base64(self, value: str, operation: str = "decode") -> Response:
        shape.record(self._limit)
        if operation not in ("decode", "encode"):
            raise BadRequest(f"operation must be encode or decode, got {operation[:64]!r}")
        wanted = request.args.get("content-type", shape.TEXT)
        content_type = mediatypes.check(_printable(wanted), "content-type", self._unsafe_allowed)
        if operation == "encode":
            return shape.text_response(base64.urlsafe_b64encode(value.encode()), content_type)
        return shape.text_response(decode(value), content_type)

    def response_headers(self) -> Response:
        shape.record(self._limit)
        pairs = [(_name(name), _printable(value)) for name, value in request.args.items(multi=True)]
        types = [value for name, value in pairs if name.lower() == "content-type"] or [shape.JSON]
        if len(types) > 1:
            raise BadRequest("Content-Type may be given once")
        content_type = mediatypes.check(types[0], "Content-Type", self._unsafe_allowed)
        shown: dict[str, str | list[str]] = {"Content-Type": content_type}
        for name, value in pairs:
            if name.lower() != "content-type":
                _add(shown, name, value)
        response = Response(orjson.dumps(shown, option=orjson.OPT_INDENT_2) + b"\n")
        response.headers["Content-Type"] = content_type
        for name, value in pairs:
            if name.lower() != "content-type":
                response.headers.add(name, value)
        return response


def _name(name: str) -> str:
    if not _TOKEN.fullmatch(name):
        raise BadRequest(f"header name {name[:64]!r} is not a token")
    if name.lower() in _FRAMING:
        raise BadRequest(f"{name} frames the message and stays the server's")
    return name


def _printable(value: str) -> str:
    if not _VALUE.fullmatch(value):
        raise BadRequest(f"header value {value[:64]!r} must be printable ASCII")
    return value


def _add(shown: dict[str, str | list[str]], name: str, value: str) -> None:
    present = shown.get(name)
    if present is None:
        shown[name] = value
    elif isinstance(present, list):
        present.append(value)
    else:
        shown[name] = [present, value]
