"""`/call` when ECHO_CALL_TARGETS names targets: call them, answer with the record and the calls.

`POST /call` takes the W3C Trace Context test harness's body, `[{"url", "arguments"}]`
(`arguments` POSTed as JSON, none: a GET); `GET /call?url=…` (repeatable) is the
simple form. Every entry is checked before any call is made: a malformed one is a
400, a URL outside ECHO_CALL_TARGETS a 403; too deep a chain is a 508. Imported by
service.calls.routes only when there are targets: it brings httpx and its instrumentation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from flask import Flask, Request, Response, request
from werkzeug.exceptions import BadRequest, Forbidden, MethodNotAllowed

from service.calls import downstream
from service.calls.fanout import MAX_CALLS, Caller, Planned
from service.calls.hops import hop_count
from service.calls.targets import BadUrl, Targets, parse
from service.cloud.idtokens import IdTokens
from service.exchange import pipeline, routing
from service.exchange.outcome import Record
from service.exchange.pipeline import RecordResponse
from service.settings import Settings, SettingsError
from service.telemetry import tracing

_METHODS = ("GET", "POST")


Outbound = tuple[Caller, Targets]  # the checked client and its allow-list, one per worker


def view(settings: Settings, outbound: Outbound) -> Callable[..., Response]:
    """The /call view, calling with `outbound`."""
    return _call_view(settings, outbound)


def outbound_of(app: Flask, settings: Settings) -> Outbound:
    """The client /call (and the inspector's replay) sends with, for ECHO_CALL_TARGETS."""
    try:
        targets = Targets(settings.call_targets)
    except BadUrl as error:
        raise SettingsError(f"invalid ECHO_CALL_TARGETS: {error}") from None
    timeout = settings.call_timeout_seconds
    client = downstream.create_client(targets.literal_ips, timeout, tracing.provider_of(app))
    google = settings.call_auth == "google"
    tokens = IdTokens(settings.metadata_host, timeout) if google else None
    return Caller(client, targets, timeout, tokens), targets


def _call_view(settings: Settings, caller: Outbound) -> Callable[..., Response]:
    def call() -> Response:
        if request.method not in _METHODS:
            if request.method == "OPTIONS":
                return routing.options_response(_METHODS)
            raise MethodNotAllowed(valid_methods=list(_METHODS))
        hops = hop_count(request, settings.call_max_hops)
        current = pipeline.current()
        record = current.echo_record(settings.max_body_bytes)
        calls = caller[0].run(plan(request, record, caller[1]), hops)
        current.note_calls(calls)
        answer = {**record, "calls": [made.as_dict() for made in calls]}
        return RecordResponse(orjson.dumps(answer) + b"\n", mimetype="application/json")

    return call


def plan(req: Request, record: Record, targets: Targets) -> list[Planned]:
    """The calls asked for, each checked: 400 for a malformed entry, 403 outside the targets."""
    entries = _entries(req, record)
    if not entries:
        raise BadRequest("Name at least one URL to call.")
    if len(entries) > MAX_CALLS:
        raise BadRequest(f"{len(entries)} calls asked for; at most {MAX_CALLS} per request.")
    planned = [_planned(index, entry) for index, entry in enumerate(entries)]
    for index, call in enumerate(planned):
        if not targets.allows(call.url):
            raise Forbidden(f"entry {index}: {call.url} is not under ECHO_CALL_TARGETS.")
    return planned


def _entries(req: Request, record: Record) -> list[Any]:
    if req.method == "GET":
        return [{"url": url} for url in req.args.getlist("url")]
    if record["data_encoding"] != "utf-8":
        raise BadRequest('The body must be a JSON array of {"url", "arguments"} objects.')
    try:
        body = orjson.loads(record["data"] or "null")
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"The body is not JSON: {error}.") from None
    if not isinstance(body, list):
        raise BadRequest('The body must be a JSON array of {"url", "arguments"} objects.')
    return body


def _planned(index: int, entry: Any) -> Planned:
    if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
        raise BadRequest(f'entry {index}: expected an object with a "url" string.')
    unknown = sorted(set(entry) - {"url", "arguments"})
    if unknown:
        raise BadRequest(f"entry {index}: unknown key {unknown[0]!r} (only url and arguments).")
    try:
        url = parse(entry["url"])
    except BadUrl as error:
        raise BadRequest(f"entry {index}: url {entry['url'][:200]!r} {error}.") from None
    return Planned(url, entry.get("arguments"))
