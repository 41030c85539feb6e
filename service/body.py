"""Request bodies: read within the limit, decoded, parsed, files hashed as they stream."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json as stdlib_json
import re
from collections.abc import Iterator
from typing import IO, Any

import orjson
from flask import Request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, HTTPException

_JSON_ERROR_CHARS = 200
_MAX_ECHO_DEPTH = 254
_LONG_DIGITS = re.compile(rb"\d{19,}")


class HashingSink:
    """Where an uploaded file streams to: counted and hashed, never stored."""

    def __init__(self) -> None:
        self.size = 0
        self._sha256 = hashlib.sha256()

    def write(self, chunk: bytes) -> int:
        self.size += len(chunk)
        self._sha256.update(chunk)
        return len(chunk)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def read(self, size: int = -1) -> bytes:
        return b""

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()


class EchoRequest(Request):
    """A request whose multipart files are hashed as they stream instead of kept."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return HashingSink()  # type: ignore[return-value]


def read_raw(req: Request) -> bytes:
    """The raw body, cached on the request; a 400 when the body cannot be read."""
    with _framing_errors():
        return req.get_data(cache=True)


def read_form(req: Request) -> MultiDict[str, str]:
    """The parsed form (files stream into a HashingSink); a 400 when the body cannot be read."""
    with _framing_errors():
        return req.form


def stream_too_large(req: Request, max_body_bytes: int) -> bool:
    """True when a body read as a stream (multipart) went past `max_body_bytes`."""
    if req.content_length is not None:
        return req.content_length > max_body_bytes
    # A streamed body: werkzeug stopped one byte past the limit (see echo.init_app).
    return bool(getattr(req.stream, "is_exhausted", False))


@contextlib.contextmanager
def _framing_errors() -> Iterator[None]:
    try:
        yield
    except HTTPException:
        raise
    except Exception as error:  # the server's own framing errors, e.g. gunicorn's InvalidChunkSize
        raise BadRequest(f"The request body could not be read: {error}"[:200]) from error


def decode(raw: bytes) -> tuple[str, str]:
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def parse_json(req: Request, raw: bytes) -> tuple[Any, str | None]:
    if not raw or not req.is_json:
        return None, None
    try:
        value = orjson.loads(raw)
        _check_echoable(raw, value)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, ValueError) as error:
        return None, str(error)[:_JSON_ERROR_CHARS]
    return value, None


def _check_echoable(raw: bytes, value: Any) -> None:
    """Raise when the parsed body cannot be echoed faithfully.

    orjson reads integers past 64 bits as floats (losing digits) and nests up to
    1024 levels when reading but only 254 when writing.
    """
    if _LONG_DIGITS.search(raw):
        stdlib_json.loads(raw, parse_int=_int64)
    if raw.count(b"[") + raw.count(b"{") > _MAX_ECHO_DEPTH:
        orjson.dumps(value)


def _int64(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**64:
        raise ValueError(f"integer {text[:32]}... does not fit in 64 bits")
    return value


def file_info(field: str, item: Any) -> dict[str, Any]:
    sink = item.stream
    return {
        "field": field,
        "filename": item.filename,
        "content_type": item.content_type,
        "size": sink.size if isinstance(sink, HashingSink) else None,
        "sha256": sink.sha256 if isinstance(sink, HashingSink) else None,
    }
