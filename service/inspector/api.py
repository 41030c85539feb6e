"""The inspector's history API: the views behind the bearer token (see routes.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from flask import Response, request

from service.exchange import errors, pipeline
from service.inspector import export
from service.inspector import store as history
from service.inspector.feed import LiveFeed, peer_closed
from service.inspector.links import Links
from service.inspector.store import Found, Store, StoreError

View = Callable[..., Response]


def presenter(links: Links) -> Callable[[Found], dict[str, Any]]:
    """The API's view of a stored exchange: its cursor, its document and its links."""

    def present(found: Found) -> dict[str, Any]:
        entry: dict[str, Any] = orjson.loads(found.document)
        return {"id": found.cursor, **entry, "links": links.of(entry)}

    return present


def _json(body: Any) -> Response:
    response = Response(orjson.dumps(body) + b"\n", mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _unavailable(error: StoreError) -> Response:
    return errors.json_error(503, "Service Unavailable", f"history store: {error}")


def list_view(store: Store, present: Callable[[Found], dict[str, Any]]) -> View:
    """GET /_echoscope/exchanges: the newest exchanges matching the query's filters
    (`format=har`: as a HAR 1.2 log); DELETE: forget them all."""

    def exchanges() -> Response:
        if request.method == "DELETE":
            return _cleared(store)
        try:
            filters = history.parse_filters(request.args)
            wanted = _format(("json", "har"))
        except ValueError as error:
            return errors.json_error(400, "Bad Request", str(error))
        try:
            found = store.find(filters)
        except StoreError as error:
            return _unavailable(error)
        if wanted == "har":
            return _har([orjson.loads(item.document) for item in found], "exchanges")
        return _json({"exchanges": [present(item) for item in found]})

    return exchanges


def _cleared(store: Store) -> Response:
    try:
        store.clear()
    except StoreError as error:
        return _unavailable(error)
    return _json({"cleared": True})


def _format(allowed: tuple[str, ...]) -> str:
    wanted = request.args.get("format", "json")
    if wanted not in allowed:
        raise ValueError(f"format must be one of {', '.join(allowed)}")
    return wanted


def _har(entries: list[dict[str, Any]], name: str) -> Response:
    response = _json(export.har(entries))
    response.headers["Content-Disposition"] = f'attachment; filename="echoscope-{name}.har"'
    return response


def one_view(store: Store, present: Callable[[Found], dict[str, Any]]) -> View:
    """GET /_echoscope/exchanges/<uuid>: one exchange."""

    def one(uuid: str) -> Response:
        if not history.is_uuid(uuid):
            return errors.json_error(404, "Not Found", "an exchange id is 32 lowercase hex digits")
        try:
            wanted = _format(("json", "har", "curl"))
            found = store.get(uuid)
        except ValueError as error:
            return errors.json_error(400, "Bad Request", str(error))
        except StoreError as error:
            return _unavailable(error)
        if found is None:
            return errors.json_error(404, "Not Found", "no such exchange in the history")
        if wanted == "json":
            return _json(present(found))
        entry = orjson.loads(found.document)
        if wanted == "har":
            return _har([entry], uuid)
        answer = Response(export.curl(entry), mimetype="text/plain")
        answer.headers["Cache-Control"] = "no-store"
        return answer

    return one


def stream_view(store: Store, feed: LiveFeed) -> View:
    """GET /_echoscope/exchanges/stream: Server-Sent Events from Last-Event-ID (or from now)."""

    def stream() -> Response:
        cursor = request.headers.get("Last-Event-ID", "").strip()
        if cursor and not store.valid_cursor(cursor):
            return errors.json_error(400, "Bad Request", "Last-Event-ID is not an exchange id")
        try:
            cursor = cursor or store.latest()
        except StoreError as error:
            return _unavailable(error)
        if not feed.reserve():
            busy = errors.json_error(503, "Service Unavailable", "too many live streams")
            busy.headers["Retry-After"] = "5"
            return busy
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        sock = request.environ.get("gunicorn.socket")
        events = feed.events(cursor, lambda: peer_closed(sock))
        return pipeline.stream(events, mimetype="text/event-stream", headers=headers)

    return stream
