"""Response controls: what the caller asks of the response (mendhak's x-set-response-* names).

Pure: reading and checking the controls, and applying them to a response. The
routes that use them are registered by `service.echo.routes`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random
import time

from flask import Request, Response
from werkzeug.exceptions import BadRequest

from service.echo import faults, mediatypes

STATUS = "x-set-response-status-code"
DELAY_MS = "x-set-response-delay-ms"
CONTENT_TYPE = "x-set-response-content-type"
NO_BODY_STATUSES = frozenset({204, 304})
# (407's Proxy-Authenticate is hop-by-hop: gunicorn drops it, so echoscope cannot send it.)
_CHALLENGES = {401: {"WWW-Authenticate": 'Basic realm="Fake Realm"'}}


@dataclasses.dataclass(frozen=True, slots=True)
class Controls:
    """What the caller asked of the response."""

    status: int | None = None
    delay_seconds: float = 0.0
    content_type: str | None = None
    fault: str | None = None


def read(
    req: Request, max_delay_seconds: float, unsafe_types: bool, faults_enabled: bool = True
) -> Controls:
    """Read the controls from the query string, else the headers; raise 400 when invalid."""
    environ = req.environ
    if not _in_query(environ):
        for key in _HEADER_KEYS:
            if environ.get(key) is not None:
                break
        else:
            return _NONE  # the common case, decided without parsing the query
    status = _lookup(req, STATUS)
    delay = _lookup(req, DELAY_MS)
    content_type = _lookup(req, CONTENT_TYPE)
    fault = _lookup(req, faults.FAULT)
    if status is None and delay is None and content_type is None and fault is None:
        return Controls()
    return Controls(
        status=None if status is None else parse_status(status, STATUS),
        delay_seconds=0.0 if delay is None else parse_delay(delay, 0.001, max_delay_seconds),
        content_type=None
        if content_type is None
        else mediatypes.check(content_type, CONTENT_TYPE, unsafe_types),
        fault=None if fault is None else faults.check(req, fault, faults_enabled),
    )


def apply(controls: Controls, response: Response) -> Response:
    """Delay, set the content type and status the caller asked for, then the fault."""
    if controls.delay_seconds and controls.fault != "slow":  # slow spends it dripping the body
        time.sleep(controls.delay_seconds)
    if controls.content_type is not None:
        response.headers["Content-Type"] = controls.content_type
    if controls.status is not None:
        response = with_status(response, controls.status)
    if controls.fault is not None:
        response = faults.apply(controls.fault, response, controls.delay_seconds)
    return response


def with_status(response: Response, status: int) -> Response:
    """`response` with `status`; a 204 or 304 becomes the same headers with no body."""
    if status in NO_BODY_STATUSES:
        bare = Response(status=status, headers=response.headers)
        bare.headers.pop("Content-Type", None)
        bare.headers.pop("Content-Length", None)
        return bare
    response.status_code = status
    return response


def parse_status(raw: str, name: str) -> int:
    """A status code from 200 to 599, or a 400 naming the bad value."""
    if len(raw) != 3 or not raw.isascii() or not raw.isdigit() or not 200 <= int(raw) <= 599:
        raise BadRequest(f"{name} must be an integer from 200 to 599, got {raw[:64]!r}")
    return int(raw)


def parse_statuses(raw: str) -> list[tuple[int, float]]:
    """`200`, or go-httpbin's weighted choices (`200:0.5,500:0.5`, `200,500`); a 400 otherwise."""
    choices = []
    for choice in raw.split(","):
        code, _, weight = choice.partition(":")
        value = _weight(weight, raw) if weight or ":" in choice else 1.0
        choices.append((parse_status(code, "status code"), value))
    if sum(weight for _, weight in choices) <= 0:
        raise BadRequest(f"status weights must not all be 0, got {raw[:64]!r}")
    return choices


def choose_status(raw: str, rng: random.Random | None = None) -> int:
    """One status of `raw`, drawn by weight (the only one when there is one)."""
    choices = parse_statuses(raw)
    if len(choices) == 1:
        return choices[0][0]
    codes = [code for code, _ in choices]
    chosen: int = (rng or random).choices(codes, [weight for _, weight in choices])[0]
    return chosen


def status_headers(status: int) -> dict[str, str]:
    """What httpbin adds to a status: Location on a redirect, the challenge on 401."""
    if 300 <= status < 400 and status != 304:
        return {"Location": "/redirect/1"}
    return _CHALLENGES.get(status, {})


def parse_delay(raw: str, unit: float, cap: float, name: str = DELAY_MS) -> float:
    """`raw` times `unit` seconds, capped at `cap`; a 400 naming `name` when not a number >= 0."""
    try:
        value = float(raw) * unit
    except ValueError:
        value = math.nan
    if not raw.isascii() or not value >= 0 or math.isinf(value):
        raise BadRequest(f"{name} must be a non-negative number, got {raw[:64]!r}")
    return min(value, cap)


def _weight(raw: str, whole: str) -> float:
    try:
        value = float(raw) if raw.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:
        raise BadRequest(f"a status weight must be a number >= 0, got {whole[:64]!r}")
    return value


def _in_query(environ: dict[str, object]) -> bool:
    """Whether the query string may hold a control (one is named literally or escaped)."""
    query = str(environ.get("QUERY_STRING", ""))
    return "x-set-response-" in query or "%" in query


def _lookup(req: Request, name: str) -> str | None:
    value = req.args.get(name)
    # The header straight from the environ, as werkzeug's EnvironHeaders.get finds it.
    return value if value is not None else req.environ.get(_environ_key(name))


@functools.cache
def _environ_key(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


_NAMES = (STATUS, DELAY_MS, CONTENT_TYPE, faults.FAULT)
_HEADER_KEYS = tuple(_environ_key(name) for name in _NAMES)
_NONE = Controls()
