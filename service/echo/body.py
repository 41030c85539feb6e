"""Request bodies: read within the limit, decoded, parsed, files hashed as they stream."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import zlib
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from flask import Request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, HTTPException, RequestTimeout
from werkzeug.formparser import FormDataParser
from werkzeug.utils import cached_property
from werkzeug.wsgi import get_content_length

from service.echo import requesturl
from service.exchange import errors
from service.exchange.outcome import FileInfo
from service.server import connection


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
    """A request whose multipart files are hashed instead of kept, and whose parse errors show."""

    @cached_property
    def url(self) -> str:
        """werkzeug's `url`, joined directly when no part needs quoting (echo.requesturl)."""
        return requesturl.plain(self) or super().url

    def make_form_data_parser(self) -> FormDataParser:
        parser = super().make_form_data_parser()
        parser.silent = False
        return parser

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
    if not has_body(req.environ):
        return b""
    with _framing_errors():
        return req.get_data(cache=True)


def has_body(environ: dict[str, Any]) -> bool:
    """False when reading the body is sure to give b"": werkzeug's get_input_stream gives
    an empty stream without `wsgi.input_terminated` and a Content-Length (or with 0); under
    gunicorn, the HTTP/1 wire (service.server.wire) reads none without a length or chunks."""
    if "wsgi.input_terminated" not in environ:
        return get_content_length(environ) not in (None, 0)
    if connection.ENVIRON_KEY not in environ or "HTTP_TRANSFER_ENCODING" in environ:
        return True
    return bool(environ.get("CONTENT_LENGTH", "0") != "0")


def read_form(req: Request) -> MultiDict[str, str]:
    """The parsed form (files stream into a HashingSink); a 400 when the body cannot be read."""
    with _framing_errors():
        return req.form


def read_multipart(req: Request) -> tuple[MultiDict[str, str], str | None]:
    """The parsed multipart form (files hashed as they stream), or an empty one and why not."""
    with _framing_errors():
        try:
            return req.form, None
        except ValueError as error:  # werkzeug's parser, told not to hide what it can't parse
            return MultiDict(), f"the multipart body could not be parsed: {error}"[:200]


@contextlib.contextmanager
def _framing_errors() -> Iterator[None]:
    try:
        yield
    except HTTPException:
        raise
    except Exception as error:  # the server's own framing errors, e.g. gunicorn's InvalidChunkSize
        raise BadRequest(f"The request body could not be read: {error}"[:200]) from error


def arrival(req: Request, raw: bytes) -> bool:
    """Whether `raw` is the whole body (the record's `body_complete`).

    The server says how the body ended (a chunked one too); without it, only a
    Content-Length longer than what was read shows a body cut short.
    """
    conn: connection.Connection | None = req.environ.get(connection.ENVIRON_KEY)
    if conn is not None:
        return conn.body_complete is not False
    return req.content_length is None or len(raw) >= req.content_length


def refuse_incomplete(req: Request, body_size: int, expected: int | None) -> HTTPException:
    """The 400 (or 408, for a body that stopped arriving) answering a body cut short."""
    conn: connection.Connection | None = req.environ.get(connection.ENVIRON_KEY)
    if expected is None:
        what = f"The chunked body ended after {body_size} bytes, before its last chunk"
    else:
        what = f"The body ended after {body_size} of the {expected} bytes of its Content-Length"
    if conn is not None and conn.body_timed_out:
        return RequestTimeout(f"{what}: nothing more arrived for ECHO_BODY_TIMEOUT_SECONDS.")
    return BadRequest(f"{what}.")


_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def form_problem(raw: bytes) -> str | None:
    """Why a url-encoded form body cannot be decoded, or None when it can."""
    bad = _BAD_ESCAPE.search(raw)
    if bad:
        return f"the form body has a % not followed by two hex digits at byte {bad.start()}"
    try:
        for part in raw.replace(b"+", b" ").split(b"&"):
            unquote_to_bytes(part).decode("utf-8")
    except UnicodeDecodeError:
        return "the form body is not UTF-8 once percent-decoded"
    return None


def decode(raw: bytes) -> tuple[str, str]:
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def file_info(field: str, item: Any) -> FileInfo:
    """An uploaded file as the record describes it: size and digest, never the contents."""
    sink = item.stream
    return {
        "field": field,
        "filename": item.filename,
        "content_type": item.content_type,
        "size": sink.size if isinstance(sink, HashingSink) else None,
        "sha256": sink.sha256 if isinstance(sink, HashingSink) else None,
    }


_INFLATE_CHUNK = 65536
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
ENCODINGS = frozenset(_WBITS)


def inflate(raw: bytes, coding: str, max_bytes: int) -> tuple[bytes | None, str | None]:
    """The decoded body, or (None, reason) when it does not decode; a 413 past `max_bytes`.

    Inflated in bounded steps, so a small bomb never grows past the limit in memory.
    """
    wbits = _WBITS[coding]
    try:
        return _inflate(raw, wbits, max_bytes), None
    except zlib.error as error:
        if coding == "deflate":  # some clients send raw deflate without the zlib wrapper
            try:
                return _inflate(raw, -zlib.MAX_WBITS, max_bytes), None
            except zlib.error:
                pass
        return None, f"the body is not valid {coding}: {error}"[:200]


def _inflate(raw: bytes, wbits: int, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = bytearray()
    pending = raw
    while pending:
        out += inflater.decompress(pending, _INFLATE_CHUNK)
        if len(out) > max_bytes:
            raise errors.too_large(max_bytes, "decoded body")
        pending = inflater.unconsumed_tail
        if inflater.eof:
            break
    out += inflater.flush(max_bytes + 1 - len(out))
    if len(out) > max_bytes:
        raise errors.too_large(max_bytes, "decoded body")
    if not inflater.eof:
        raise zlib.error("the compressed stream ends early")
    return bytes(out)
