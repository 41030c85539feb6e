"""Replies the caller writes: `x-set-response-body` and `x-set-response-header` on any echo path.

Like the other controls (service.control), each is a query parameter or a
header, the query string winning. The body is text, or bytes as
`base64:<standard or URL-safe base64>`, at most MAX_BODY_BYTES. Headers are
`Name: value`, repeatable (a header repeated on the wire arrives joined by
commas, so a comma before `Name:` starts the next one). Names must be tokens
and values printable; what frames the message, is hop-by-hop, is CORS or is
stamped by echoscope itself is refused (a JSON 400 naming it), a
Content-Type must pass service.mediatypes and a Location service.locations
(no open redirect; `Refresh` is refused, a redirect by another name). The record is still captured:
the exchange line and the history hold it, and say the reply was the caller's.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re

from flask import Request, Response
from werkzeug.exceptions import BadRequest

from service.echo import locations, mediatypes
from service.exchange.pipeline import WrittenResponse

BODY = "x-set-response-body"
HEADER = "x-set-response-header"
MAX_BODY_BYTES = 4096  # within what a header field (gunicorn: 8190) or a URL can carry
MAX_HEADERS = 32
TEXT = "text/plain; charset=utf-8"
OCTETS = "application/octet-stream"
# Hop-by-hop (RFC 9110 7.6.1) and framing: the server's to decide, never the caller's.
FRAMING = frozenset(
    {"connection", "content-length", "keep-alive", "proxy-authenticate", "proxy-authorization",
     "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)  # fmt: skip
# Stamped on every response (service.exchange), and CORS, which ECHO_CORS_ORIGIN alone decides:
# a caller-written Access-Control-Allow-Origin would let any site read the record's cookies.
_SERVERS = frozenset({"x-request-id", "traceresponse", "x-content-type-options"})
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VALUE = re.compile(r"[\t\x20-\x7e]*")
_NEXT_HEADER = re.compile(r",[ \t]*(?=[!#$%&'*+.^_`|~0-9A-Za-z-]+[ \t]*:)")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """What the caller wrote: a body (None: the echo record stays the body) and headers."""

    body: bytes | None
    content_type: str | None
    headers: tuple[tuple[str, str], ...]


def read(req: Request, unsafe_types: bool, redirect_hosts: frozenset[str]) -> Reply | None:
    """The reply the caller wrote, None when it wrote none; a 400 naming what is wrong."""
    if not _asked(req.environ):
        return None  # the common case, decided without parsing the query or the headers
    body, from_query = _body_control(req)
    raw_headers = req.args.getlist(HEADER) or req.headers.getlist(HEADER)
    if body is None and not raw_headers:
        return None
    headers = parse_headers(raw_headers)
    content_type = _content_type(headers, unsafe_types)
    _check_locations(headers, redirect_hosts)
    if body is None:
        return Reply(None, content_type, headers)
    content, is_text = decode_body(body, from_query)
    return Reply(content, content_type or (TEXT if is_text else OCTETS), headers)


def respond(reply: Reply) -> Response:
    """A response with the caller's body and headers (the body must not be None)."""
    response = WrittenResponse(reply.body, content_type=reply.content_type)
    return add_headers(reply, response)


def add_headers(reply: Reply, response: Response) -> Response:
    """`response` with the caller's headers; a caller's Content-Type replaces the response's."""
    for name, value in reply.headers:
        if name.lower() == "content-type":
            response.headers["Content-Type"] = value
        else:
            response.headers.add(name, value)
    return response


def parse_headers(values: list[str]) -> tuple[tuple[str, str], ...]:
    """`Name: value` items, several per value when joined by commas; a 400 for a bad one."""
    items = [item for value in values for item in _NEXT_HEADER.split(value) if item.strip()]
    if len(items) > MAX_HEADERS:
        raise BadRequest(f"{HEADER}: {len(items)} headers, at most {MAX_HEADERS}")
    pairs = []
    for item in items:
        name, colon, value = item.partition(":")
        if not colon:
            raise BadRequest(f"{HEADER} must be 'Name: value', got {item[:64]!r}")
        pairs.append((header_name(name.strip(), HEADER), header_value(value.strip(), HEADER)))
    return tuple(pairs)


def header_name(name: str, control: str) -> str:
    """A header name the caller may set, or a 400 naming it and why not."""
    if not _TOKEN.fullmatch(name):
        raise BadRequest(f"{control}: header name {name[:64]!r} is not a token")
    lowered = name.lower()
    if lowered in FRAMING:
        raise BadRequest(f"{control}: {name} frames the message or is hop-by-hop: refused")
    if lowered in _SERVERS or lowered.startswith("access-control-"):
        raise BadRequest(f"{control}: {name} is set by echoscope itself: refused")
    if lowered == "refresh":
        raise BadRequest(f"{control}: {name} redirects unchecked: use Location")
    return name


def header_value(value: str, control: str) -> str:
    """A printable ASCII header value, or a 400."""
    if not _VALUE.fullmatch(value):
        raise BadRequest(f"{control}: header value {value[:64]!r} must be printable ASCII")
    return value


def decode_body(raw: str, from_query: bool) -> tuple[bytes, bool]:
    """The body's bytes, and whether it was text; a 400 past MAX_BODY_BYTES or for bad base64."""
    if raw.startswith("base64:"):
        content, is_text = _base64(raw.removeprefix("base64:")), False
    else:
        # A query string is UTF-8; a header value reaches WSGI as Latin-1 of the bytes sent.
        content, is_text = raw.encode("utf-8" if from_query else "latin-1", "replace"), True
    if len(content) > MAX_BODY_BYTES:
        raise BadRequest(f"{BODY}: {len(content)} bytes, at most {MAX_BODY_BYTES}")
    return content, is_text


def _asked(environ: dict[str, object]) -> bool:
    query = str(environ.get("QUERY_STRING", "")).lower()
    return (
        "x-set-response-" in query
        or "%" in query  # a percent-encoded name: let werkzeug decode it
        or "HTTP_X_SET_RESPONSE_BODY" in environ
        or "HTTP_X_SET_RESPONSE_HEADER" in environ
    )


def _body_control(req: Request) -> tuple[str | None, bool]:
    value = req.args.get(BODY)
    if value is not None:
        return value, True
    return req.headers.get(BODY), False


def _content_type(headers: tuple[tuple[str, str], ...], unsafe_types: bool) -> str | None:
    types = [value for name, value in headers if name.lower() == "content-type"]
    if len(types) > 1:
        raise BadRequest(f"{HEADER}: Content-Type may be given once")
    if not types:
        return None
    return mediatypes.check(types[0], f"{HEADER} Content-Type", unsafe_types)


def _check_locations(headers: tuple[tuple[str, str], ...], hosts: frozenset[str]) -> None:
    for name, value in headers:
        if name.lower() == "location" and not locations.is_allowed(value, hosts):
            raise BadRequest(
                f"{HEADER}: Location {value[:64]!r} must be a path on this server or a URL "
                "to a host in ECHO_REDIRECT_HOSTS"
            )


def _base64(text: str) -> bytes:
    try:
        return decode_base64(text)
    except NotBase64 as error:
        why = f" ({error.reason})" if error.reason else ""
        raise BadRequest(f"{BODY}: base64:{text[:64]!r} is not base64{why}") from None


class NotBase64(ValueError):
    """A text that is not base64; `reason` is binascii's, or None for a wrong alphabet."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason or "not base64")
        self.reason = reason


def decode_base64(text: str) -> bytes:
    """Base64 in either alphabet (URL-safe or standard), padding optional."""
    if not _BASE64.fullmatch(text):
        raise NotBase64(None)
    standard = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error as error:
        raise NotBase64(str(error)) from None
