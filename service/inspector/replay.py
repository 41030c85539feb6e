"""POST /_echoscope/exchanges/<uuid>/replay: send a stored request again, through /call's client.

The body is `{"url": "…"}`, a URL under ECHO_CALL_TARGETS (else a 403 before
anything connects); the client is /call's (the same address checks, no
redirects, its timeout), the hop count and the trace context are this
exchange's, and the replay is itself an exchange: logged with its `calls`,
traced with a CLIENT span, kept in the history. What the history holds is what
is sent: redacted headers are left out (and named), and a body cut at
ECHO_LOG_BODY_BYTES or files only described cannot be replayed (409).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from flask import Request, Response, request
from opentelemetry import propagate
from werkzeug.exceptions import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    UnsupportedMediaType,
)

from service.calls.fanout import Planned
from service.calls.hops import HOPS_HEADER
from service.calls.routes import Outbound, hop_count
from service.calls.targets import BadUrl, parse
from service.exchange import pipeline
from service.inspector import store as history
from service.inspector.api import View
from service.inspector.export import notes, sendable_headers
from service.inspector.store import Store, StoreError
from service.settings import Settings
from service.telemetry.redact import REDACTED


def replay_view(store: Store, outbound: Outbound | None, settings: Settings) -> View:
    """The replay view (behind the inspector's bearer token)."""

    def replay(uuid: str) -> Response:
        if outbound is None:
            raise NotFound("replay is off: ECHO_CALL_TARGETS is empty")
        target = _target(request, outbound)
        hops = hop_count(request, settings.call_max_hops)
        current = pipeline.current()
        current.echo_record(settings.max_body_bytes)
        planned, dropped = plan(_stored(store, uuid), target)
        calls = outbound[0].run([planned], hops)
        current.note_calls(calls)
        answer = {"replayed": uuid, "dropped_headers": dropped, "call": calls[0].as_dict()}
        return Response(orjson.dumps(answer), mimetype="application/json")

    return replay


def plan(entry: dict[str, Any], url: Any) -> tuple[Planned, list[str]]:
    """The stored request as a call to `url`, and the headers left out (redacted ones)."""
    stored = entry["request"]
    if stored.get("truncated") or stored.get("files") or stored.get("cut"):
        raise Conflict(f"cannot replay what was not kept whole: {'; '.join(notes(stored))}")
    propagation = {name.lower() for name in propagate.get_global_textmap().fields}
    propagation.add(HOPS_HEADER.lower())
    headers, dropped = [], []
    for name, value in sendable_headers(stored):
        if REDACTED in value:
            dropped.append(name)
        elif name.lower() not in propagation:  # this exchange's context and count go instead
            headers.append((name, value))
    data = stored.get("data") or ""
    body = base64.b64decode(data) if stored.get("data_encoding") == "base64" else data.encode()
    return Planned(url, None, stored["method"], tuple(headers), body or None), dropped


def _target(req: Request, outbound: Outbound) -> Any:
    if req.mimetype != "application/json":
        raise UnsupportedMediaType('send {"url": "…"} as application/json')
    body = req.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("url"), str) or len(body) != 1:
        raise BadRequest('expected {"url": "…"}, a URL under ECHO_CALL_TARGETS')
    try:
        url = parse(body["url"])
    except BadUrl as error:
        raise BadRequest(f"url {body['url'][:200]!r} {error}") from None
    if not outbound[1].allows(url):
        raise Forbidden(f"{url} is not under ECHO_CALL_TARGETS")
    return url


def _stored(store: Store, uuid: str) -> dict[str, Any]:
    if not history.is_uuid(uuid):
        raise NotFound("an exchange id is 32 lowercase hex digits")
    try:
        found = store.get(uuid)
    except StoreError as error:
        raise ServiceUnavailable(f"history store: {error}") from None
    if found is None:
        raise NotFound("no such exchange in the history")
    entry: dict[str, Any] = orjson.loads(found.document)
    return entry
