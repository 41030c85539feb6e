"""The request's headers, trace headers and cookies, read in one pass over the WSGI environ.

What the echo record holds of them, as werkzeug's EnvironHeaders and `Request.cookies`
would give it, without their per-request work (tests/unit/echo/test_recordparts.py
compares them on generated requests).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Request

from service.telemetry import tracecontext

# environ key -> header name (None for keys that are not headers), bounded: a client
# inventing header names gets them computed on every request instead.
_NAMES: dict[str, str | None] = {}
_UNSEEN = "\0unseen"
_MAX_NAMES = 1024
_TRACE_NAMES = tracecontext.TITLED_NAMES
_SPECIAL = frozenset((*_TRACE_NAMES, "Cookie"))


def read_headers(environ: dict[str, Any]) -> tuple[dict[str, str], dict[str, str], str]:
    """The request's headers, its trace headers and its Cookie, in one pass over the environ.

    The headers as werkzeug's EnvironHeaders names them (HTTP_X_Y -> X-Y titled, then a
    non-empty Content-Type and Content-Length); the trace headers by lowercase name, as
    `tracecontext.describe` selects them from the headers; the Cookie values joined by ";"
    as werkzeug's `Request.cookies` joins them. tests/unit/echo/test_recordparts.py compares.
    """
    headers: dict[str, str] = {}
    arrived: dict[str, str] = {}
    cookie: list[str] = []
    names = _NAMES
    for key, value in environ.items():
        name = names.get(key, _UNSEEN)
        if name is _UNSEEN:
            name = _header_name(key)
        if name is None:
            continue
        headers[name] = value
        if name in _SPECIAL:
            if name == "Cookie":
                cookie.append(value)
            else:
                arrived[_TRACE_NAMES[name]] = value
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").title()] = environ[key]
    return headers, arrived, ";".join(cookie)


def _header_name(key: str) -> str | None:
    name = key[5:].replace("_", "-").title() if key.startswith("HTTP_") else None
    if len(_NAMES) < _MAX_NAMES:
        _NAMES[key] = name
    return name


# A Cookie header of plain `name=value` pairs split by ";" (and one space): werkzeug's
# parse_cookie reads it as the split does. Anything else (quotes, spaces, tabs) goes to it.
_PLAIN_COOKIES = re.compile(r'[^ \t=";]+=[^ \t";]*(?:; ?[^ \t=";]+=[^ \t";]*)*')


def cookies(req: Request, header: str) -> dict[str, str]:
    """The record's `cookies`: werkzeug's `req.cookies.to_dict()`, `header` the joined Cookie."""
    if not header:
        return {}
    if _PLAIN_COOKIES.fullmatch(header) is None:
        return req.cookies.to_dict()
    found: dict[str, str] = {}
    for pair in header.split(";"):
        name, _, value = pair.lstrip(" ").partition("=")
        if name not in found:
            found[name] = value
    return found
