"""One request/response exchange: its id, clock and trace ids; finished once into an Outcome.

Every request gets an `Exchange` before any view runs, held in a context variable (a
`flask.g` attribute is a proxy lookup of ~1 µs, read ~6 times a request). When the
response is ready its ids go on the headers; when the exchange is over (after the
last byte for a streamed response) the record is built if no view built it, time
is measured once, and every finisher (span, metrics, log line …) receives the
same frozen `Outcome`, in registration order. Finishers never re-read the request.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import structlog
from flask import Flask, Request, Response, request, stream_with_context
from opentelemetry import trace

from service.exchange import excluded, routing, traceids
from service.exchange.capturer import Capturer
from service.exchange.counting import CountingStream
from service.exchange.identity import Identity
from service.exchange.outcome import DownstreamCall, Finisher, Outcome, Record, SessionSummary
from service.exchange.traceids import TraceIds
from service.settings import Settings

_FINISHERS = "echoscope.finishers"
_log = structlog.get_logger("echoscope.exchange")
# The exchange of the request this thread serves: set by `begin`, emptied when the next
# request enters (excluded.marking), kept for a streamed body's last chunks meanwhile.
_current: ContextVar[Exchange | None] = ContextVar("echoscope_exchange", default=None)


@dataclasses.dataclass(slots=True)
class Exchange:
    """The mutable state of the current request, until it is finished into an Outcome."""

    request: Request
    request_id: str
    started: float
    trace: TraceIds | None
    server: dict[str, Any]
    method: str
    route: str
    capturer: Capturer
    excluded: bool
    record: Record | None = None
    error_type: str = ""
    calls: tuple[DownstreamCall, ...] = ()
    websocket: SessionSummary | None = None
    fault: str = ""
    response: Response | None = None  # the answer, once `after_request` has it; finished once

    def echo_record(self, max_body_bytes: int) -> Record:
        """The echo record of this request, its body read once (a 413 past the limit)."""
        if self.record is None:
            self.record = self.capturer.capture(
                self.request, self.request_id, self.trace, self.server, max_body_bytes
            )
            self.capturer.check(self.request, self.record)  # a body cut short: 400 or 408
        return self.record

    def use_record(self, record: Record) -> None:
        """A view that reads the body its own way describes the request itself."""
        self.record = record

    def add_server_facts(self, facts: dict[str, Any]) -> None:
        """Facts about the instance that answered, for the record's `server`."""
        self.server = {**self.server, **facts}

    def note_calls(self, calls: tuple[DownstreamCall, ...]) -> None:
        """The outgoing calls the exchange made (their telemetry reads the Outcome)."""
        self.calls = calls

    def note_session(self, session: SessionSummary) -> None:
        """The WebSocket session the exchange served (status 101, its telemetry reads it)."""
        self.websocket = session

    def note_error(self, error: BaseException) -> None:
        """An unhandled exception ended the exchange: its type labels the telemetry."""
        self.error_type = type(error).__qualname__

    def note_fault(self, fault: str) -> None:
        """The connection fault the caller asked for (x-set-response-fault) labels the telemetry."""
        self.fault = fault


class RecordResponse(Response):
    """A response whose body is the echo record (logged as the redacted record)."""


class WrittenResponse(Response):
    """A response whose body the caller wrote (x-set-response-body), not the record."""


def init_app(app: Flask, settings: Settings, identity: Identity, capturer: Capturer) -> None:
    """Start an exchange before every request and finish it once it is over."""
    finishers: list[Finisher] = app.extensions.setdefault(_FINISHERS, [])
    app.wsgi_app = excluded.marking(app.wsgi_app, settings.exclude_paths, _forget)  # type: ignore[method-assign,assignment]
    app.before_request(_beginner(identity.server_info(), capturer))
    app.after_request(_stamp)
    app.teardown_request(_finisher(finishers))


def on_finish(app: Flask, finisher: Finisher) -> None:
    """Run `finisher(outcome)` when each exchange is over, in registration order."""
    app.extensions.setdefault(_FINISHERS, []).append(finisher)


def current() -> Exchange:
    """The exchange of the request being served (a RuntimeError outside one)."""
    exchange = _current.get()
    if exchange is None:
        raise RuntimeError("no exchange: not inside a request echoscope began")
    return exchange


def current_or_none() -> Exchange | None:
    """The exchange of the request being served, or None before it began."""
    return _current.get()


def begin(exchange: Exchange) -> None:
    """Make `exchange` the current one (the before-request hook does it for every request)."""
    _current.set(exchange)


def _forget() -> None:
    _current.set(None)


def stream(chunks: Iterator[bytes], **response: Any) -> Response:
    """A streamed response whose exchange is finished after its last byte."""
    return Response(stream_with_context(chunks), **response)


def _beginner(server: dict[str, Any], capturer: Capturer) -> Callable[[], None]:
    def start() -> None:
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        # 128 random bits without a syscall (uuid4 reads os.urandom on every call)
        request_id = f"{random.getrandbits(128):032x}"
        is_excluded = excluded.current()
        exchange = Exchange(
            req,
            request_id,
            time.perf_counter(),
            None if is_excluded else traceids.current(),  # its span was dropped: no ids
            server,
            routing.method_of(req),
            routing.route_of(req),
            capturer,
            is_excluded,
        )
        begin(exchange)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(uuid=request_id)

    return start


def _stamp(response: Response) -> Response:
    exchange = current()
    response.headers["X-Request-Id"] = exchange.request_id
    response.headers["X-Content-Type-Options"] = "nosniff"  # the declared type, never a guess
    if exchange.trace is not None:
        response.headers["traceresponse"] = exchange.trace.traceresponse
    if response.is_streamed:
        response.response = CountingStream(response.response)
    exchange.response = response
    return response


def _finisher(finishers: list[Finisher]) -> Callable[[BaseException | None], None]:
    def finish(_: BaseException | None) -> None:
        # Flask 3.1 tears a streamed request down twice: when the view returns and again
        # when the stream ends; the response is taken once, so it is finished once.
        exchange = _current.get()
        if exchange is not None and exchange.response is not None:
            response, exchange.response = exchange.response, None
            if isinstance(response.response, CountingStream):
                response.response.when_closed(_later(finishers, exchange, response))
            else:
                _run(finishers, _outcome(exchange, response))
        # gunicorn reuses the thread: its own lines after this request must not carry its uuid.
        structlog.contextvars.clear_contextvars()

    return finish


def _later(finishers: list[Finisher], exchange: Exchange, response: Response) -> Callable[[], None]:
    """Finish a stream once the server has sent its last byte (or the client left)."""
    span = trace.get_current_span()

    def finish() -> None:
        # The server span and the uuid of the exchange, for the log line's correlation fields.
        with (
            trace.use_span(span, end_on_exit=False),
            structlog.contextvars.bound_contextvars(uuid=exchange.request_id),
        ):
            _run(finishers, _outcome(exchange, response))

    return finish


def _outcome(exchange: Exchange, response: Response) -> Outcome:
    elapsed = time.perf_counter() - exchange.started
    streamed = response.response if isinstance(response.response, CountingStream) else None
    body = streamed.head if streamed else response.get_data()
    req = exchange.request
    rec = exchange.record or exchange.capturer.capture_head(
        req, exchange.request_id, exchange.trace, exchange.server
    )
    return Outcome(
        request_id=exchange.request_id,
        record=rec,
        method=exchange.method,
        route=exchange.route,
        status=response.status_code,
        elapsed=elapsed,
        request_size=rec["body_size"] or 0,
        response_size=streamed.size if streamed else len(body),
        response_headers=dict(response.headers),
        response_body=body,
        body_is_record=isinstance(response, RecordResponse) and bool(body),
        trace=exchange.trace,
        protocol=req.environ.get("SERVER_PROTOCOL"),
        error_type=exchange.error_type,
        excluded=exchange.excluded,
        calls=exchange.calls,
        websocket=exchange.websocket,
        written_by_caller=isinstance(response, WrittenResponse),
        fault=exchange.fault,
    )


def _run(finishers: list[Finisher], outcome: Outcome) -> None:
    for finisher in finishers:
        try:
            finisher(outcome)
        except Exception:  # telemetry must never fail the request it describes
            _log.exception("telemetry finisher failed", finisher=finisher.__qualname__)
