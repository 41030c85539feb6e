"""Connection faults on request (`x-set-response-fault`): the app's half.

The exchange is answered as usual (its record, line, span and count each name
the fault); then the server breaks the connection instead of delivering the
answer (service/server/wire.py), or, for `slow`, the app drips the body itself over
the delay.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Request, Response, request, stream_with_context
from werkzeug.exceptions import BadRequest, Forbidden

from service.exchange import pipeline
from service.exchange.pipeline import RecordResponse
from service.server import connection

FAULT = "x-set-response-fault"
SLOW_SECONDS = 1.0  # how long `slow` drips a body when no delay is asked for
_DRIPS = 10


def check(req: Request, raw: str, enabled: bool) -> str:
    """The fault named by `raw`; a 403 when faults are off, a 400 for an unknown one."""
    fault = raw.strip().lower()
    if not enabled:
        raise Forbidden(f"{FAULT} is turned off on this server (ECHO_FAULTS=false)")
    if fault not in connection.FAULTS:
        raise BadRequest(f"{FAULT} must be one of {', '.join(connection.FAULTS)}, got {raw[:64]!r}")
    if fault in connection.SERVER_FAULTS and connection.ENVIRON_KEY not in req.environ:
        raise BadRequest(f"{FAULT}={fault} needs an HTTP/1.1 connection to echoscope's own server")
    return fault


def apply(fault: str, response: Response, delay_seconds: float) -> Response:
    """Mark the exchange with `fault`, and have the server (or, for `slow`, the body) do it."""
    pipeline.current().note_fault(fault)
    if fault == "slow":
        return _drip(response, delay_seconds or SLOW_SECONDS)
    conn: connection.Connection = request.environ[connection.ENVIRON_KEY]
    conn.break_with(fault)
    return response


def _drip(response: Response, seconds: float) -> Response:
    """The same response, its body sent in pieces spread over `seconds` (length announced)."""
    body = response.get_data()
    count = max(1, min(_DRIPS, len(body)))
    size = -(-len(body) // count)
    pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]

    def chunks() -> Iterator[bytes]:
        for index, piece in enumerate(pieces):
            if index:
                time.sleep(seconds / (len(pieces) - 1))
            yield piece

    kind = RecordResponse if isinstance(response, RecordResponse) else Response
    dripped = kind(stream_with_context(chunks()), status=response.status, headers=response.headers)
    dripped.headers["Content-Length"] = str(len(body))
    return dripped
