"""The echo endpoints: thin views over a pure `capture(request) -> record`."""

from __future__ import annotations

import base64
import hashlib
import json as stdlib_json
import re
from collections.abc import Callable
from typing import IO, Any

import orjson
from flask import Flask, Request, Response, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from service import control, exchange
from service.exchange import Exchange
from service.routing import add_any_method_rule

Record = dict[str, Any]
SEED_COOKIE = "echoscope_uuid"
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


def init_app(app: Flask, max_delay_seconds: float, max_body_bytes: int) -> Callable[..., Response]:
    """Register `GET /` (the seed's hello_world), /anything and the catch-all; return the view."""
    # werkzeug stops a streamed (chunked) body at MAX_CONTENT_LENGTH without an error;
    # letting it read one byte more shows capture() that the body was too large.
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes + 1
    echo_view = _echo_view(max_delay_seconds, max_body_bytes)
    app.add_url_rule("/", "hello_world", _hello_world_view(echo_view), methods=["GET", "HEAD"])
    for rule in ("/", "/anything", "/anything/<path:path>", "/<path:path>"):
        add_any_method_rule(app, rule, "echo", echo_view)
    return echo_view


def record_of(current: Exchange, body: bool = True, max_body_bytes: int | None = None) -> Record:
    """The echo record of the current request, captured once per exchange.

    With body=False (the log line of an exchange whose view never captured,
    e.g. a 413), the body is not read again.
    """
    if current.record is None:
        current.record = capture(request, current, body, max_body_bytes)
    return current.record


def capture(
    req: Request, current: Exchange, body: bool = True, max_body_bytes: int | None = None
) -> Record:
    """Describe a request as the echo record (SPEC §3); raises 413 for an oversize body."""
    is_multipart = req.mimetype == "multipart/form-data"
    read_body = body and not is_multipart
    raw, form = _read_body(req, read_body, body)
    if max_body_bytes is not None and _too_large(req, raw, read_body, max_body_bytes):
        raise RequestEntityTooLarge(f"The body is larger than {max_body_bytes} bytes.")
    data, encoding = _decode(raw)
    parsed, json_error = _parse_json(req, raw)
    record: Record = {
        "uuid": current.request_id,
        "endpoint": (req.endpoint or "").rpartition(".")[2] or None,
        "method": req.method,
        "cookies": req.cookies.to_dict(),
        "data": data,
        "headers": _headers(req.environ),
        "args": _flatten(req.args),
        "form": form,
        "remote_addr": _socket_peer(req),
        "files": [_file_info(key, item) for key, item in req.files.items(multi=True)]
        if body
        else [],
        "path": req.path,
        "url": req.url,
        "scheme": req.scheme,
        "host": req.host,
        "query_string": req.query_string.decode("utf-8", "replace"),
        "json": parsed,
        "data_encoding": encoding,
        "body_size": len(raw) if read_body else req.content_length,
        "client_ip": req.remote_addr,
        "trace": current.trace.as_dict() if current.trace else None,
        "server": current.server,
    }
    if json_error is not None:
        record["json_error"] = json_error
    return record


def render(record: Record, status: int = 200) -> Response:
    """The record as a JSON response, encoded once with orjson."""
    return Response(orjson.dumps(record), status=status, mimetype="application/json")


def _echo_view(max_delay_seconds: float, max_body_bytes: int) -> Callable[..., Response]:
    def echo(path: str = "") -> Response:
        controls = control.read(request, max_delay_seconds)
        current = exchange.current()
        response = render(record_of(current, True, max_body_bytes))
        current.echoed = True
        return control.apply(controls, response)

    return echo


def _hello_world_view(echo_view: Callable[..., Response]) -> Callable[[], Response]:
    def hello_world() -> Response:
        response = echo_view()
        response.set_cookie(
            SEED_COOKIE, exchange.current().request_id, httponly=True, samesite="Lax"
        )
        return response

    return hello_world


def _read_body(req: Request, read_raw: bool, parse_form: bool) -> tuple[bytes, dict[str, Any]]:
    try:
        raw = req.get_data(cache=True) if read_raw else b""
        form = _flatten(req.form) if parse_form else {}
    except HTTPException:
        raise
    except Exception as error:  # the server's own framing errors, e.g. gunicorn's InvalidChunkSize
        raise BadRequest(f"The request body could not be read: {error}"[:200]) from error
    return raw, form


def _too_large(req: Request, raw: bytes, read_body: bool, max_body_bytes: int) -> bool:
    if read_body:
        return len(raw) > max_body_bytes
    if req.content_length is not None:
        return req.content_length > max_body_bytes
    # A streamed multipart body: the stream stopped one byte past the limit.
    return bool(getattr(req.stream, "is_exhausted", False))


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    # What werkzeug's EnvironHeaders yields, built in one pass (3x faster on the hot path).
    headers = {
        key[5:].replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").title()] = environ[key]
    return headers


def _decode(raw: bytes) -> tuple[str, str]:
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def _parse_json(req: Request, raw: bytes) -> tuple[Any, str | None]:
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


def _flatten(values: MultiDict[str, Any]) -> dict[str, Any]:
    return {key: items[0] if len(items) == 1 else items for key, items in values.lists()}


def _socket_peer(req: Request) -> str | None:
    original = req.environ.get("werkzeug.proxy_fix.orig")
    if original is not None:
        peer: str | None = original.get("REMOTE_ADDR")
        return peer
    return req.remote_addr


def _file_info(field: str, item: Any) -> dict[str, Any]:
    sink = item.stream
    return {
        "field": field,
        "filename": item.filename,
        "content_type": item.content_type,
        "size": sink.size if isinstance(sink, HashingSink) else None,
        "sha256": sink.sha256 if isinstance(sink, HashingSink) else None,
    }
