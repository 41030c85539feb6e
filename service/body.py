"""Request bodies: read within the limit, decoded, parsed, files hashed as they stream."""

from __future__ import annotations

import base64
import hashlib
import json as stdlib_json
import re
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


def read(req: Request, read_raw: bool, parse_form: bool) -> tuple[bytes, MultiDict[str, str]]:
    """The raw body (unless multipart) and the parsed form; a 400 when the body is unreadable."""
    try:
        raw = req.get_data(cache=True) if read_raw else b""
        form = req.form if parse_form else MultiDict()
    except HTTPException:
        raise
    except Exception as error:  # the server's own framing errors, e.g. gunicorn's InvalidChunkSize
        raise BadRequest(f"The request body could not be read: {error}"[:200]) from error
    return raw, form


def too_large(req: Request, raw: bytes, read_body: bool, max_body_bytes: int) -> bool:
    if read_body:
        return len(raw) > max_body_bytes
    if req.content_length is not None:
        return req.content_length > max_body_bytes
    # A streamed multipart body: the stream stopped one byte past the limit.
    return bool(getattr(req.stream, "is_exhausted", False))


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
