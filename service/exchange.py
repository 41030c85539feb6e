"""One request/response exchange: its id, clock and trace ids, CORS, and the finishers.

Every request gets an `Exchange` in `flask.g` before any view runs. When the
response is ready, the finishers registered by the telemetry parts (metrics,
then the log line) run in registration order on the same exchange, so each
reads what the others already computed instead of re-reading the request.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from typing import Any

import structlog
from flask import Flask, Request, Response, g, request
from opentelemetry import trace

from service import routing
from service.identity import Identity
from service.settings import Settings

Finisher = Callable[["Exchange", Response], None]
_FINISHERS = "echoscope.finishers"
_EXPOSED = "X-Request-Id, traceresponse"
_NO_BODY_STATUSES = frozenset({204, 304})
_log = structlog.get_logger("echoscope.exchange")


@dataclasses.dataclass(frozen=True, slots=True)
class TraceIds:
    """The server span's ids as Cloud Logging, exemplars and the record show them."""

    trace_id: str
    span_id: str
    sampled: bool

    @property
    def traceresponse(self) -> str:
        """The W3C Trace Context level 2 `traceresponse` header value."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def as_dict(self) -> dict[str, Any]:
        return {"trace_id": self.trace_id, "span_id": self.span_id, "sampled": self.sampled}


@dataclasses.dataclass(slots=True)
class Exchange:
    """What echoscope knows about the current request, built once and shared."""

    request: Request
    request_id: str
    started: float
    trace: TraceIds | None
    server: dict[str, Any]
    method: str
    route: str
    record: dict[str, Any] | None = None
    echoed: bool = False


def init_app(app: Flask, settings: Settings, identity: Identity) -> None:
    """Start an exchange before every request and finish it after every response."""
    finishers: list[Finisher] = app.extensions.setdefault(_FINISHERS, [])
    app.before_request(_beginner(_server_info(identity)))
    if settings.cors_origin:
        app.before_request(_preflight)
    app.after_request(_finisher(finishers, _cors_headers(settings.cors_origin)))
    app.teardown_request(_end)


def on_finish(app: Flask, finisher: Finisher) -> None:
    """Run `finisher(exchange, response)` after every response, in registration order."""
    app.extensions.setdefault(_FINISHERS, []).append(finisher)


def current() -> Exchange:
    """The exchange of the request being served."""
    exchange: Exchange = g.exchange
    return exchange


def current_trace_ids() -> TraceIds | None:
    """Ids of the current span, or None when there is no valid span (excluded paths)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return TraceIds(
        format(context.trace_id, "032x"),
        format(context.span_id, "016x"),
        context.trace_flags.sampled,
    )


def _beginner(server: dict[str, Any]) -> Callable[[], None]:
    def begin() -> None:
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        # 128 random bits without a syscall (uuid4 reads os.urandom on every call)
        request_id = f"{random.getrandbits(128):032x}"
        g.exchange = Exchange(
            req,
            request_id,
            time.perf_counter(),
            current_trace_ids(),
            server,
            routing.method_of(req),
            routing.route_of(req),
        )
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(uuid=request_id)

    return begin


def _server_info(identity: Identity) -> dict[str, Any]:
    return {
        "service": identity.service,
        "version": identity.version,
        "revision": identity.revision,
        "instance": identity.instance,
    }


def _end(_: BaseException | None) -> None:
    # gunicorn reuses the thread: its own lines after this request must not carry its uuid.
    structlog.contextvars.clear_contextvars()


def _preflight() -> Response | None:
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = request.headers[
        "Access-Control-Request-Method"
    ]
    wanted = request.headers.get("Access-Control-Request-Headers")
    if wanted:
        response.headers["Access-Control-Allow-Headers"] = wanted
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


def _cors_headers(origin: str) -> dict[str, str]:
    if not origin:
        return {}
    headers = {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": _EXPOSED}
    if origin != "*":
        headers["Vary"] = "Origin"
    return headers


def _finisher(finishers: list[Finisher], cors: dict[str, str]) -> Callable[[Response], Response]:
    def finish(response: Response) -> Response:
        exchange = current()
        response.headers["X-Request-Id"] = exchange.request_id
        if exchange.trace is not None:
            response.headers["traceresponse"] = exchange.trace.traceresponse
        response.headers.update(cors)
        if response.status_code in _NO_BODY_STATUSES:
            exchange.echoed = False
            response.set_data(b"")
            response.headers.pop("Content-Type", None)
        for finisher in finishers:
            try:
                finisher(exchange, response)
            except Exception:  # telemetry must never fail the request it describes
                _log.exception("telemetry finisher failed", finisher=finisher.__qualname__)
        return response

    return finish
