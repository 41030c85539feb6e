"""The echo record: what a request looked like on arrival, as one JSON-ready dict. No routes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from flask import Request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from service.echo import body, clientcert, jsonbody, requestparts
from service.exchange import errors
from service.exchange.outcome import FileInfo, Record
from service.exchange.traceids import TraceIds
from service.server.environ import HTTP2
from service.telemetry import credentials, tracecontext

_NO_FORM: MultiDict[str, str] = MultiDict()  # never changed: read by _flatten only


def capture(
    req: Request,
    request_id: str,
    trace: TraceIds | None,
    server: dict[str, Any],
    max_body_bytes: int,
) -> Record:
    """The record of `req`, its body read within `max_body_bytes` (a 413 past it)."""
    environ = req.environ
    if (req.content_length or 0) > max_body_bytes and _expects_continue(req):
        raise _too_large(max_body_bytes)  # refused from the head, instead of 100 Continue
    raw = body.read_raw(req)
    if len(raw) > max_body_bytes:
        raise _too_large(max_body_bytes)
    if not body.arrival(req, raw):  # what did arrive, as it is: nothing parsed out of half a body
        record = _record(req, request_id, trace, server, raw, _NO_FORM, [], len(raw))
        record["body_complete"] = False
        return record
    # werkzeug's mimetype, without parsing an absent Content-Type
    mimetype = req.mimetype if environ.get("CONTENT_TYPE") else ""
    if mimetype == "multipart/form-data":
        record = _multipart_record(req, request_id, trace, server, raw)
    elif (coding := environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()) in body.ENCODINGS:
        record = _decoded_record(req, request_id, trace, server, raw, coding, max_body_bytes)
    elif mimetype != "application/x-www-form-urlencoded":  # werkzeug parses no other form
        record = _record(req, request_id, trace, server, raw, _NO_FORM, [], len(raw))
    elif problem := body.form_problem(raw):
        # said, as multipart's parse errors are, rather than parsed into nonsense keys
        record = _record(req, request_id, trace, server, raw, _NO_FORM, [], len(raw))
        record["form_error"] = problem
    else:
        record = _record(req, request_id, trace, server, raw, body.read_form(req), [], len(raw))
    record["body_complete"] = True
    return record


def check(req: Request, record: Record) -> None:
    """Raise the 400 (408 when it stalled) answering a body cut short; nothing otherwise."""
    if record["body_complete"] is False:
        raise body.refuse_incomplete(req, record["body_size"] or 0, record["body_expected_size"])


def _multipart_record(
    req: Request, request_id: str, trace: TraceIds | None, server: dict[str, Any], raw: bytes
) -> Record:
    """Fields and file descriptions, never file contents; an unparseable body kept as data."""
    form, error = body.read_multipart(req)
    if error is not None:
        record = _record(req, request_id, trace, server, raw, form, [], len(raw))
        record["form_error"] = error
        return record
    files = [body.file_info(key, item) for key, item in req.files.items(multi=True)]
    return _record(req, request_id, trace, server, b"", form, files, len(raw))


def _decoded_record(
    req: Request,
    request_id: str,
    trace: TraceIds | None,
    server: dict[str, Any],
    raw: bytes,
    coding: str,
    max_body_bytes: int,
) -> Record:
    """The record of a gzip/deflate body: decoded for reading, its size on the wire kept."""
    decoded, error = body.inflate(raw, coding, max_body_bytes)
    form: MultiDict[str, str] = MultiDict()
    problem = None
    if decoded is not None and req.mimetype == "application/x-www-form-urlencoded":
        problem = body.form_problem(decoded)
        if problem is None:
            form = MultiDict(parse_qsl(decoded.decode("utf-8"), keep_blank_values=True))
    record = _record(
        req, request_id, trace, server, raw if decoded is None else decoded, form, [], len(raw)
    )
    if problem is not None:
        record["form_error"] = problem
    record["content_encoding"] = coding
    if decoded is None:
        record["encoding_error"] = error or "undecodable"
    else:
        record["decoded_size"] = len(decoded)
    return record


def capture_head(
    req: Request, request_id: str, trace: TraceIds | None, server: dict[str, Any]
) -> Record:
    """The record of `req` without reading its body (for exchanges no view described, a 413)."""
    return _record(req, request_id, trace, server, b"", _NO_FORM, [], req.content_length)


def _record(
    req: Request,
    request_id: str,
    trace: TraceIds | None,
    server: dict[str, Any],
    raw: bytes,
    form: MultiDict[str, str],
    files: list[FileInfo],
    body_size: int | None,
) -> Record:
    environ = req.environ
    data, encoding = body.decode(raw)
    parsed, json_error = jsonbody.parse_json(req, raw)
    headers, arrived, cookie = requestparts.read_headers(environ)
    remote_addr = req.remote_addr
    record: Record = {
        "uuid": request_id,
        "endpoint": (req.endpoint or "").rpartition(".")[2] or None,
        "method": req.method,
        "cookies": requestparts.cookies(req, cookie),
        "data": data,
        "headers": headers,
        "args": _flatten(req.args) if req.query_string else {},
        "form": _flatten(form) if form else {},
        "remote_addr": _socket_peer(environ, remote_addr),
        "files": files,
        "path": req.path,
        "url": req.url,
        "scheme": req.scheme,
        "host": req.host,
        "query_string": req.query_string.decode("utf-8", "replace"),
        "json": parsed,
        "data_encoding": encoding,
        "body_size": body_size,
        "client_ip": remote_addr,
        "origin": remote_addr,  # httpbin's name for the client's address
        "trace": trace.as_dict() if trace else None,
        "server": server,
        # Propagation forensics and who called: computed by their own modules.
        "trace_context": tracecontext.described(arrived, trace, environ),
        "auth": credentials.describe(headers),
        "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "http2": environ.get(HTTP2),
        "client_cert": clientcert.describe(environ, headers),
        "body_complete": None,  # known once the body is read (`capture` sets it)
        "body_expected_size": req.content_length,
    }
    if json_error is not None:
        record["json_error"] = json_error
    if "gunicorn.socket" in environ:  # only a TLS socket has anything to say
        tls = clientcert.tls_of(environ)
        if tls is not None:
            record["tls"] = tls
    return record


def _expects_continue(req: Request) -> bool:
    return req.headers.get("Expect", "").strip().lower() == "100-continue"


def _too_large(max_body_bytes: int) -> RequestEntityTooLarge:
    return errors.too_large(max_body_bytes)


def _flatten(values: MultiDict[str, Any]) -> dict[str, Any]:
    return {key: items[0] if len(items) == 1 else items for key, items in values.lists()}


def _socket_peer(environ: dict[str, Any], remote_addr: str | None) -> str | None:
    original = environ.get("werkzeug.proxy_fix.orig")
    if original is not None:
        peer: str | None = original.get("REMOTE_ADDR")
        return peer
    return remote_addr
