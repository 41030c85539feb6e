"""httpbin's body shapes, projected from echoscope's echo record.

Every httpbin view captures the record first (so the exchange line logs the
request as every echo does) and answers a projection of it: `origin` is the
record's `client_ip`, `data` is text or a `data:` URL as in psf/httpbin, and
uploaded files are described (`filename, content_type, size, sha256`), never
echoed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from flask import Response

from service.exchange import pipeline
from service.exchange.outcome import FileInfo, Record

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"


def record(max_body_bytes: int) -> Record:
    """The echo record of the current request, captured once per exchange (413 past the limit)."""
    return pipeline.current().echo_record(max_body_bytes)


def request_part(rec: Record) -> dict[str, Any]:
    """What psf/httpbin's /get answers: args, headers, origin, url."""
    return {
        "args": rec["args"],
        "headers": rec["headers"],
        "origin": rec["client_ip"],
        "url": rec["url"],
    }


def body_part(rec: Record) -> dict[str, Any]:
    """What psf/httpbin's /post answers: the request part with data, files, form and json."""
    return {
        **request_part(rec),
        "data": _data(rec),
        "files": _files(rec["files"]),
        "form": rec["form"],
        "json": rec["json"],
    }


def json_response(value: Any, status: int = 200) -> Response:
    """Indented, sorted JSON ending in a newline, as psf/httpbin writes it."""
    body = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    return Response(body, status=status, mimetype=JSON)


def stream(chunks: Iterator[bytes], content_type: str, status: int = 200) -> Response:
    """A streamed body, measured and logged once its last byte is sent."""
    return pipeline.stream(chunks, status=status, content_type=content_type)


def text_response(body: bytes | str, content_type: str = TEXT, status: int = 200) -> Response:
    """A body of exactly the given Content-Type (strings are sent as UTF-8)."""
    return Response(body, status=status, content_type=content_type)


def _data(rec: Record) -> str:
    if rec["data_encoding"] == "base64":
        return f"data:application/octet-stream;base64,{rec['data']}"
    return str(rec["data"])


def _files(files: list[FileInfo]) -> dict[str, Any]:
    described: dict[str, Any] = {}
    for item in files:
        about = {key: item[key] for key in ("filename", "content_type", "size", "sha256")}
        field = item["field"]
        if field not in described:
            described[field] = about
        elif isinstance(described[field], list):
            described[field].append(about)
        else:
            described[field] = [described[field], about]
    return described
