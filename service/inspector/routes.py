"""/_echoscope/: the inspector's page and its history API, behind ECHO_INSPECT_TOKEN.

Without the token setting every /_echoscope path is a JSON 404 and nothing is
recorded. With it, every recorded exchange (not the excluded paths, not the
inspector's own requests) goes to the history, the page's files are served to
anyone (they hold no data) and every data request needs
`Authorization: Bearer <token>` (compared in constant time).
"""

from __future__ import annotations

import dataclasses
import hmac
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask, Response, request
from werkzeug.exceptions import NotFound

from service.calls.routes import Outbound
from service.cloud.instance import Facts
from service.exchange import errors, pipeline
from service.exchange.outcome import Outcome
from service.exchange.routing import READ, add_any_method_rule, add_strict_rule
from service.settings import Settings
from service.telemetry import logs

if TYPE_CHECKING:  # the inspector's parts are imported only when ECHO_INSPECT_TOKEN is set
    from service.inspector import recorder
    from service.inspector.api import View
    from service.inspector.store import Store

PREFIX = "/_echoscope"
RECORDER = "echoscope.recorder"
_FILES = Path(__file__).with_name("ui")
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_STATIC = (
    ("/_echoscope/", "inspector_page", "index.html", "text/html"),
    ("/_echoscope/inspector.js", "inspector_script", "inspector.js", "text/javascript"),
    ("/_echoscope/inspector.css", "inspector_style", "inspector.css", "text/css"),
)


def init_app(app: Flask, settings: Settings, facts: Facts, outbound: Outbound | None) -> None:
    """Register every /_echoscope route: the inspector when the token is set, JSON 404s if not."""
    add_any_method_rule(app, f"{PREFIX}/<path:rest>", "inspector_unknown", _not_found)
    if not settings.inspect_token:
        rules = [(PREFIX, "inspector_root"), *_data_rules(), *[(r, n) for r, n, *_ in _STATIC]]
        for rule, endpoint in rules:
            add_any_method_rule(app, rule, endpoint, _not_found)
        return
    from service.inspector import api, recorder, replay  # only with the token set
    from service.inspector.feed import LiveFeed
    from service.inspector.links import Links

    add_strict_rule(app, PREFIX, "inspector_root", _to_page, READ)
    store = open_store(settings)
    keeper = recorder.Recorder(store)
    app.extensions[RECORDER] = keeper
    # The page shows each response's body itself, an echo's too (the log line refers to it).
    shown = dataclasses.replace(settings, log_echo_body="copy")
    pipeline.on_finish(
        app,
        recorder.finisher(keeper, logs.line_builder(shown), _skipped),
    )
    for rule, endpoint, name, mimetype in _STATIC:
        add_strict_rule(app, rule, endpoint, _file(name, mimetype), READ)
    links = Links(settings)
    facts.subscribe(links.learn)
    present = api.presenter(links)
    feed = LiveFeed(store, present, max_streams=max(1, settings.threads // 2))
    guard = _bearer(settings.inspect_token)
    views = (
        api.list_view(store, present),
        api.stream_view(store, feed),
        api.one_view(store, present),
        replay.replay_view(store, outbound, settings),
    )
    for (rule, endpoint), view, methods in zip(_data_rules(), views, _DATA_METHODS, strict=True):
        add_strict_rule(app, rule, endpoint, guard(view), methods)


def open_store(settings: Settings) -> Store:
    """Redis when ECHO_HISTORY_URL is set, else the SQLite file the workers share."""
    if settings.history_url:
        from service.inspector.store_redis import (
            RedisStore,
        )  # redis-py takes ~0.1 s to import: only if used

        return RedisStore(settings.history_url, settings.history_size)
    from service.inspector.store_sqlite import SqliteStore

    # gunicorn.conf.py names one file per master; a process of its own gets its own file.
    path = settings.history_path or os.path.join(
        tempfile.gettempdir(), f"echoscope-history-{os.getpid()}.sqlite3"
    )
    return SqliteStore(path, settings.history_size)


def flush(app: Flask, timeout: float) -> None:
    """Write what this worker still holds for the history (gunicorn's worker_exit calls this)."""
    keeper: recorder.Recorder | None = app.extensions.get(RECORDER)
    if keeper is not None:
        keeper.flush(timeout)


def _data_rules() -> list[tuple[str, str]]:
    return [
        (f"{PREFIX}/exchanges", "inspector_exchanges"),
        (f"{PREFIX}/exchanges/stream", "inspector_stream"),
        (f"{PREFIX}/exchanges/<uuid>", "inspector_exchange"),
        (REPLAY, "inspector_replay"),
    ]


REPLAY = f"{PREFIX}/exchanges/<uuid>/replay"
# A HEAD stream would never end; DELETE clears the history.
_DATA_METHODS = ((*READ, "DELETE"), ("GET",), READ, ("POST",))


def _skipped(outcome: Outcome) -> bool:
    path = outcome.record["path"]
    if outcome.route == REPLAY:
        return False  # a replay is an exchange of its own: its call is worth keeping
    return outcome.excluded or path == PREFIX or path.startswith(f"{PREFIX}/")


def _not_found(**_: str) -> Response:
    raise NotFound()


def _to_page() -> Response:
    # werkzeug's own slash redirect would answer with an HTML body
    return Response(status=308, headers={"Location": f"{PREFIX}/"})


def _bearer(token: str) -> Callable[[View], View]:
    expected = token.encode()

    def guard(view: View) -> View:
        def guarded(**kwargs: str) -> Response:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), expected
            ):
                return errors.json_error(
                    401,
                    "Unauthorized",
                    "send Authorization: Bearer <the ECHO_INSPECT_TOKEN value>",
                    [("WWW-Authenticate", 'Bearer realm="echoscope"')],
                )
            return view(**kwargs)

        return guarded

    return guard


def _file(name: str, mimetype: str) -> View:
    body = (_FILES / name).read_bytes()
    headers = _PAGE_HEADERS if mimetype == "text/html" else {"Cache-Control": "no-cache"}
    return lambda: Response(body, mimetype=mimetype, headers=headers)
