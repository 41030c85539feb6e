"""The request as bytes (go-httpbin's /dump/request, /upload) and response trailers (/trailers)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from flask import Flask, Request, Response, request
from werkzeug.exceptions import BadRequest

from service.echo import record
from service.exchange import errors, pipeline
from service.exchange.outcome import Record
from service.exchange.routing import add_any_method_rule, add_strict_rule
from service.httpbin import shape
from service.server import trailers
from service.settings import Settings

_CHUNK = 65_536
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Fields a trailer may not carry (RFC 9110 §6.5.1, go-httpbin's list).
_FORBIDDEN_TRAILERS = frozenset(
    {
        "authorization", "cache-control", "content-encoding", "content-length", "content-range",
        "content-type", "host", "max-forwards", "set-cookie", "te", "trailer", "transfer-encoding",
    }
)  # fmt: skip
_H2_TRAILERS = "gunicorn.http2.send_trailers"


def init_app(app: Flask, settings: Settings) -> None:
    """Register /dump/request, /upload and /trailers."""
    views = _Views(settings.max_body_bytes)
    add_any_method_rule(app, "/dump/request", "httpbin_dump_request", views.dump_request)
    add_strict_rule(app, "/upload", "httpbin_upload", views.upload, ("POST", "PUT", "PATCH"))
    add_any_method_rule(app, "/trailers", "httpbin_trailers", views.trailers)


class _Views:
    """The views, holding the body limit."""

    def __init__(self, max_body_bytes: int) -> None:
        self._limit = max_body_bytes

    def dump_request(self) -> Response:
        raw = request.get_data(cache=True)
        if len(raw) > self._limit:
            raise errors.too_large(self._limit)
        rec = shape.record(self._limit)
        return shape.text_response(_request_head(request, rec["headers"]) + raw)

    def upload(self) -> Response:
        received = _discard_body(request, self._limit)
        current = pipeline.current()
        head = record.capture_head(request, current.request_id, current.trace, current.server)
        rec: Record = {**head, "body_size": received}  # counted, never kept
        current.use_record(rec)
        answer = {**shape.request_part(rec), "method": rec["method"], "bytes_received": received}
        return shape.json_response(answer)

    def trailers(self) -> Response:
        wanted = _trailers(request.args.items(multi=True))
        body = orjson.dumps(
            {**shape.body_part(shape.record(self._limit)), "method": request.method},
            option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
        )
        response = shape.stream(_then_trailers(body + b"\n", request.environ, wanted), shape.JSON)
        if wanted:
            response.headers["Trailer"] = ", ".join(dict.fromkeys(name for name, _ in wanted))
        return response


def _request_head(req: Request, headers: dict[str, str]) -> bytes:
    target = req.environ.get("RAW_URI") or req.full_path.rstrip("?")
    lines = [f"{req.method} {target} {req.environ.get('SERVER_PROTOCOL', 'HTTP/1.1')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def _discard_body(req: Request, limit: int) -> int:
    """Read the body through, counting, keeping nothing; 413 past the limit."""
    received = 0
    while chunk := req.stream.read(_CHUNK):
        received += len(chunk)
        if received > limit:
            raise errors.too_large(limit)
    return received


def _trailers(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    wanted = []
    for name, value in pairs:
        if not _TOKEN.fullmatch(name) or name.lower() in _FORBIDDEN_TRAILERS:
            raise BadRequest(f"{name[:64]!r} may not be a trailer field")
        if not _VALUE.fullmatch(value):
            raise BadRequest(f"the value of trailer {name[:64]!r} must be printable ASCII")
        wanted.append((name, value))
    return wanted


def _then_trailers(
    body: bytes, environ: dict[str, Any], wanted: list[tuple[str, str]]
) -> Iterator[bytes]:
    """Yield the body, then hand the trailers to the server (HTTP/2 or chunked HTTP/1.1)."""
    yield body
    if not wanted:
        return
    if _H2_TRAILERS in environ:
        environ[_H2_TRAILERS](wanted)
    elif trailers.ENVIRON_KEY in environ:
        environ[trailers.ENVIRON_KEY].extend(wanted)
