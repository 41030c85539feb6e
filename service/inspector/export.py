"""A stored exchange as a curl command line, and stored exchanges as a HAR 1.2 log.

Both are built from what the history keeps, which is what the log line holds:
values redacted there stay `[REDACTED]` here, and the output says which ones
(a comment line for curl, the entry's `comment` for HAR), as it says when a
body was cut at ECHO_LOG_BODY_BYTES, files were only described, or a body was
kept decoded.
"""

from __future__ import annotations

import datetime
import http
import shlex
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from service import __version__
from service.telemetry.redact import REDACTED

Entry = dict[str, Any]
# The URL says where; curl frames the message itself.
_NOT_SENT = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
     "upgrade", "proxy-connection"}
)  # fmt: skip


def notes(request: Entry) -> list[str]:
    """What a copy of this request cannot repeat exactly, one sentence each."""
    said = []
    redacted = redacted_names(request)
    if redacted:
        said.append(f"redacted by echoscope, sent as {REDACTED}: {', '.join(redacted)}")
    if request.get("truncated"):
        said.append(
            f"the body was cut at ECHO_LOG_BODY_BYTES: only its first part was kept "
            f"(of {request.get('body_size')} bytes)"
        )
    if request.get("files"):
        names = ", ".join(str(item.get("filename")) for item in request["files"])
        said.append(f"uploaded files were described, never kept: {names}")
    if request.get("content_encoding"):
        said.append(f"the body was kept decoded (it arrived {request['content_encoding']})")
    if request.get("cut"):
        said.append(f"the log line's bounds cut parts of the request: {sorted(request['cut'])}")
    return said


def redacted_names(request: Entry) -> list[str]:
    """The header, query and cookie names whose values the history holds as [REDACTED]."""
    names = [f"header {k}" for k, v in request.get("headers", {}).items() if REDACTED in str(v)]
    names += [f"query {k}" for k, v in _query(request) if v == REDACTED]
    names += [f"cookie {k}" for k, v in request.get("cookies", {}).items() if v == REDACTED]
    return names


def curl(entry: Entry) -> str:
    """A shell command line that sends the stored request again (see `notes`)."""
    request = entry["request"]
    comments = [f"# echoscope exchange {entry['uuid']}: {entry.get('message', '')}"]
    comments += [f"# {note}" for note in notes(request)]
    method, q = request["method"], shlex.quote
    lines = [f"curl --globoff --path-as-is {q(request['url'])}"]
    if method == "HEAD":
        lines.append("--head")
    elif method != "GET":
        lines.append(f"--request {q(method)}")
    for name, value in sendable_headers(request):
        lines.append(f"--header {q(f'{name}: {value}' if value else f'{name};')}")
    body, is_base64 = request.get("data") or "", request.get("data_encoding") == "base64"
    if body:
        lines.append(f"--data-binary {'@-' if is_base64 else q(body)}")
    command = " \\\n  ".join(lines)
    if body and is_base64:
        command = f"printf %s {q(body)} | base64 -d | {command}"
    return "\n".join(comments) + "\n" + command + "\n"


def sendable_headers(request: Entry) -> list[tuple[str, str]]:
    """The stored request headers a client can send again (no framing, Host, pseudo-headers)."""
    decoded = bool(request.get("content_encoding"))
    return [
        (name, str(value))
        for name, value in request.get("headers", {}).items()
        if name.lower() not in _NOT_SENT
        and not name.startswith(":")
        and not (decoded and name.lower() == "content-encoding")
    ]


def har(entries: Iterable[Entry]) -> dict[str, Any]:
    """A HAR 1.2 log of stored exchanges."""
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "echoscope", "version": __version__},
            "entries": [_har_entry(entry) for entry in entries],
        }
    }


def _har_entry(entry: Entry) -> dict[str, Any]:
    request, latency = entry["request"], float(entry.get("latency_ms") or 0)
    finished = datetime.datetime.fromisoformat(entry["time"])
    started = finished - datetime.timedelta(milliseconds=latency)
    version = (entry.get("httpRequest") or {}).get("protocol") or "HTTP/1.1"
    said = notes(request)
    har_entry: dict[str, Any] = {
        "startedDateTime": started.isoformat(timespec="milliseconds"),
        "time": latency,
        "request": _har_request(request, version),
        "response": _har_response(entry["response"], version),
        "cache": {},
        "timings": {"send": 0, "wait": latency, "receive": 0},
        "_uuid": entry["uuid"],
        "_traceId": entry.get("trace_id"),
        "_spanId": entry.get("span_id"),
    }
    if said:
        har_entry["comment"] = "; ".join(said)
    return har_entry


def _har_request(request: Entry, version: str) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "method": request["method"],
        "url": request["url"],
        "httpVersion": version,
        "cookies": [{"name": k, "value": str(v)} for k, v in request.get("cookies", {}).items()],
        "headers": _pairs(request.get("headers", {})),
        "queryString": [{"name": k, "value": v} for k, v in _query(request)],
        "headersSize": -1,
        "bodySize": request.get("body_size") if request.get("body_size") is not None else -1,
    }
    if request.get("data"):
        mime = next(
            (str(v) for k, v in request["headers"].items() if k.lower() == "content-type"), ""
        )
        shaped["postData"] = {"mimeType": mime, "text": request["data"]}
        if request.get("data_encoding") == "base64":
            shaped["postData"]["comment"] = "text is the body in base64"
    return shaped


def _har_response(response: Entry, version: str) -> dict[str, Any]:
    headers = response.get("headers", {})
    lowered = {name.lower(): str(value) for name, value in headers.items()}
    content: dict[str, Any] = {
        "size": response.get("body_size", 0),
        "mimeType": lowered.get("content-type", "x-unknown"),
    }
    if "body" in response:
        content["text"] = response["body"]
    if response.get("truncated"):
        content["comment"] = "text is the body's first ECHO_LOG_BODY_BYTES bytes"
    status = int(response["status"])
    return {
        "status": status,
        "statusText": _reason(status),
        "httpVersion": version,
        "cookies": [],
        "headers": _pairs(headers),
        "content": content,
        "redirectURL": lowered.get("location", ""),
        "headersSize": -1,
        "bodySize": response.get("body_size", -1),
    }


def _pairs(headers: dict[str, Any]) -> list[dict[str, str]]:
    return [{"name": name, "value": str(value)} for name, value in headers.items()]


def _query(request: Entry) -> list[tuple[str, str]]:
    return parse_qsl(request.get("query_string") or "", keep_blank_values=True)


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""
