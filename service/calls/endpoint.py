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
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException, MethodNotAllowed

from service.calls import downstream
from service.calls.fanout import HOPS_HEADER, MAX_CALLS, Caller, Planned
from service.calls.targets import BadUrl, Targets, parse
from service.cloud.idtokens import IdTokens
from service.exchange import pipeline
from service.exchange.outcome import Record
from service.exchange.pipeline import RecordResponse
from service.settings import Settings, SettingsError
from service.telemetry import tracing

_METHODS = ("GET", "POST")
_MAX_HOPS_HEADER = 1_000_000


class LoopDetected(HTTPException):
    """508: the request came through ECHO_CALL_MAX_HOPS calls already."""

    code = 508


def view(app: Flask, settings: Settings) -> Callable[..., Response]:
    """The /call view for the targets of ECHO_CALL_TARGETS (not empty): a client made for them."""
    return _call_view(settings, _caller(app, settings))


def _caller(app: Flask, settings: Settings) -> tuple[Caller, Targets]:
    try:
        targets = Targets(settings.call_targets)
    except BadUrl as error:
        raise SettingsError(f"invalid ECHO_CALL_TARGETS: {error}") from None
    timeout = settings.call_timeout_seconds
    client = downstream.create_client(targets.literal_ips, timeout, tracing.provider_of(app))
    google = settings.call_auth == "google"
    tokens = IdTokens(settings.metadata_host, timeout) if google else None
    return Caller(client, targets, timeout, tokens), targets


def _call_view(settings: Settings, caller: tuple[Caller, Targets]) -> Callable[..., Response]:
    def call() -> Response:
        if request.method not in _METHODS:
            raise MethodNotAllowed(valid_methods=list(_METHODS))
        hops = hop_count(request, settings.call_max_hops)
        current = pipeline.current()
        record = current.echo_record(settings.max_body_bytes)
        calls = caller[0].run(plan(request, record, caller[1]), hops)
        current.note_calls(calls)
        answer = {**record, "calls": [made.as_dict() for made in calls]}
        return RecordResponse(orjson.dumps(answer), mimetype="application/json")

    return call


def hop_count(req: Request, max_hops: int) -> int:
    """The X-Echoscope-Hops that arrived (0 without one); 400 if malformed, 508 at the limit."""
    raw = req.headers.get(HOPS_HEADER, "0").strip()
    if not raw.isascii() or not raw.isdigit() or int(raw) > _MAX_HOPS_HEADER:
        raise BadRequest(f"{HOPS_HEADER} must be a whole number, got {raw[:32]!r}.")
    hops = int(raw)
    if hops >= max_hops:
        raise LoopDetected(
            f"{HOPS_HEADER}: {hops}: this request already came through "
            f"{hops} calls; ECHO_CALL_MAX_HOPS is {max_hops}."
        )
    return hops


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
