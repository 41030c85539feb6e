"""Response controls: /status/<code>, /delay/<seconds> and the x-set-response-* controls."""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable

from flask import Flask, Request, Response
from werkzeug.exceptions import BadRequest

from service.routing import add_any_method_rule

STATUS = "x-set-response-status-code"
DELAY_MS = "x-set-response-delay-ms"
CONTENT_TYPE = "x-set-response-content-type"
# Spaces and tabs only: the value becomes a response header, never a line break in it.
_MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+([ \t]*;[ \t]*[\w.+-]+=[\w.+\"-]+)*", re.ASCII)


@dataclasses.dataclass(frozen=True, slots=True)
class Controls:
    """What the caller asked of the response."""

    status: int | None = None
    delay_seconds: float = 0.0
    content_type: str | None = None


def init_app(app: Flask, max_delay_seconds: float, echo_view: Callable[..., Response]) -> None:
    """Register /status/<code> and /delay/<seconds>, both answering with the echo record."""

    def status(code: str) -> Response:
        wanted = parse_status(code, "status code")
        response = echo_view()
        response.status_code = wanted
        return response

    def delay(seconds: str) -> Response:
        time.sleep(_delay(seconds, 1.0, max_delay_seconds, "delay"))
        return echo_view()

    add_any_method_rule(app, "/status/<code>", "status", status)
    add_any_method_rule(app, "/delay/<seconds>", "delay", delay)


def read(req: Request, max_delay_seconds: float) -> Controls:
    """Read the controls from the query string, else the headers; raise 400 when invalid."""
    status = _lookup(req, STATUS)
    delay = _lookup(req, DELAY_MS)
    content_type = _lookup(req, CONTENT_TYPE)
    if status is None and delay is None and content_type is None:
        return Controls()
    return Controls(
        status=None if status is None else parse_status(status, STATUS),
        delay_seconds=0.0 if delay is None else _delay(delay, 0.001, max_delay_seconds, DELAY_MS),
        content_type=None if content_type is None else _media_type(content_type),
    )


def apply(controls: Controls, response: Response) -> Response:
    """Delay, then set the status and content type the caller asked for."""
    if controls.delay_seconds:
        time.sleep(controls.delay_seconds)
    if controls.content_type is not None:
        response.headers["Content-Type"] = controls.content_type
    if controls.status is not None:
        response.status_code = controls.status
    return response


def parse_status(raw: str, name: str) -> int:
    """A status code from 200 to 599, or a 400 naming the bad value."""
    if len(raw) != 3 or not raw.isascii() or not raw.isdigit() or not 200 <= int(raw) <= 599:
        raise BadRequest(f"{name} must be an integer from 200 to 599, got {raw[:64]!r}")
    return int(raw)


def _delay(raw: str, unit: float, cap: float, name: str) -> float:
    try:
        value = float(raw) * unit
    except ValueError:
        value = math.nan
    if not raw.isascii() or not value >= 0 or math.isinf(value):
        raise BadRequest(f"{name} must be a non-negative number, got {raw[:64]!r}")
    return min(value, cap)


def _media_type(raw: str) -> str:
    if not _MEDIA_TYPE.fullmatch(raw):
        raise BadRequest(f"{CONTENT_TYPE} must be a media type like text/plain, got {raw[:64]!r}")
    return raw


def _lookup(req: Request, name: str) -> str | None:
    value = req.args.get(name)
    return value if value is not None else req.headers.get(name)
