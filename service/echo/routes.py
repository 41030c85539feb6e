"""The echo routes (every one of them): /, /anything, the catch-all, /status and /delay."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
from flask import Flask, Response, request

from service.echo import control, durations, reply
from service.exchange import pipeline
from service.exchange.pipeline import RecordResponse
from service.exchange.routing import add_any_method_rule
from service.settings import Settings

SEED_COOKIE = "echoscope_uuid"
EchoView = Callable[..., Response]


def init_app(app: Flask, settings: Settings) -> None:
    """Register `GET /` (the seed's hello_world), /anything, /status, /delay and the catch-all."""
    # werkzeug stops a streamed (chunked) body at MAX_CONTENT_LENGTH without an error;
    # letting it read one byte more shows the record that the body was too large.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1
    echo = _echo_view(settings)
    app.add_url_rule("/", "hello_world", _hello_world_view(echo), methods=["GET", "HEAD"])
    for rule in ("/", "/anything", "/anything/<path:path>", "/<path:path>"):
        add_any_method_rule(app, rule, "echo", echo)
    add_any_method_rule(app, "/status/<code>", "status", _status_view(echo))
    add_any_method_rule(app, "/delay/<seconds>", "delay", _delay_view(echo, settings))


def _echo_view(settings: Settings) -> EchoView:
    def echo(path: str = "") -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
        controls = control.read(
            req, settings.max_delay_seconds, settings.unsafe_content_types, settings.faults_enabled
        )
        written = reply.read(req, settings.unsafe_content_types, settings.redirect_hosts)
        record = pipeline.current().echo_record(settings.max_body_bytes)
        if written is not None and written.body is not None:
            return control.apply(controls, reply.respond(written))
        # (the same bytes as dumps(record) + b"\n" and mimetype="application/json", in short)
        response = RecordResponse(
            orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE), content_type="application/json"
        )
        if written is not None:
            reply.add_headers(written, response)
        return control.apply(controls, response)

    return echo


def _hello_world_view(echo: EchoView) -> Callable[[], Response]:
    def hello_world() -> Response:
        response = echo()
        response.set_cookie(
            SEED_COOKIE, pipeline.current().request_id, httponly=True, samesite="Lax"
        )
        return response

    return hello_world


def _status_view(echo: EchoView) -> Callable[[str], Response]:
    def status(code: str) -> Response:
        wanted = control.choose_status(code)
        response = control.with_status(echo(), wanted)
        response.headers.update(control.status_headers(wanted))
        return response

    return status


def _delay_view(echo: EchoView, settings: Settings) -> Callable[[str], Response]:
    def delay(seconds: str) -> Response:
        time.sleep(durations.bounded(seconds, "delay", settings.max_delay_seconds))
        return echo()

    return delay
