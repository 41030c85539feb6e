"""Streamed responses: /stream/<n>, /jsonl, /drip, /sse (go-httpbin's events), /range/<n>.

Every duration is a Go duration or seconds; a delay and duration adding up past
ECHO_MAX_DELAY_SECONDS are a 400 before anything is sent, so no stream holds a
worker longer than that. A bare request's defaults are capped to it instead.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import orjson
from flask import Flask, Response, request

from service.exchange.routing import READ, add_strict_rule
from service.httpbin import params, ranges, shape
from service.settings import Settings

OCTETS = "application/octet-stream"
JSONL = "application/x-ndjson; charset=utf-8"
_MAX_DRIPS = 1_000  # /drip writes at most this many pieces, however many bytes


def init_app(app: Flask, settings: Settings) -> None:
    """Register the streamed endpoints."""
    views = _Views(settings.max_body_bytes, settings.max_delay_seconds)
    add_strict_rule(app, "/stream/<n>", "httpbin_stream", views.stream, READ)
    add_strict_rule(app, "/jsonl", "httpbin_jsonl", views.jsonl, READ)
    add_strict_rule(app, "/drip", "httpbin_drip", views.drip, READ)
    add_strict_rule(app, "/sse", "httpbin_sse", views.sse, READ)
    add_strict_rule(app, "/range/<n>", "httpbin_range", views.range_, READ)


class _Views:
    """The views, holding the body limit and the longest a response may take."""

    def __init__(self, max_body_bytes: int, max_seconds: float) -> None:
        self._limit = max_body_bytes
        self._max = max_seconds

    def stream(self, n: str) -> Response:
        part = shape.request_part(shape.record(self._limit))
        count = params.integer(n, "n", 0, params.MAX_STREAM_LINES)
        lines = (orjson.dumps({**part, "id": i}) + b"\n" for i in range(count))
        return shape.stream(lines, shape.JSON)

    def jsonl(self) -> Response:
        part = shape.request_part(shape.record(self._limit))
        count = params.query_int(request, "count", 10, 1, params.MAX_EVENTS)
        duration, delay, jitter = self._pacing()
        line = orjson.dumps({"id": count - 1, **part}) + b"\n"  # the longest line
        params.within_size(count * len(line), "count lines of this request", self._limit)
        time.sleep(delay)
        lines = (orjson.dumps({"id": i, **part}) + b"\n" for i in range(count))
        return shape.stream(_paced(lines, count, duration, jitter), JSONL)

    def drip(self) -> Response:
        shape.record(self._limit)
        duration = params.query_duration(request, "duration", 2.0, self._max)
        delay = params.query_duration(request, "delay", 0.0, self._max)
        size = params.query_int(request, "numbytes", 10, 1, params.MAX_BYTES)
        status = params.query_int(request, "code", 200, 200, 599)
        params.within(duration + delay, "delay and duration", self._max)
        time.sleep(delay)
        response = shape.stream(_drip(size, duration), OCTETS, status)
        response.headers["Content-Length"] = str(size)
        return response

    def sse(self) -> Response:
        shape.record(self._limit)
        count = params.query_int(request, "count", 10, 1, params.MAX_EVENTS)
        duration, delay, jitter = self._pacing(default_duration=5.0)
        time.sleep(delay)
        events = _paced((_event(i) for i in range(count)), count, duration, jitter)
        return shape.stream(events, "text/event-stream; charset=utf-8")

    def _pacing(self, default_duration: float = 0.0) -> tuple[float, float, float]:
        """go-httpbin's duration, delay and jitter, a 400 when delay + duration is too long."""
        duration = params.query_duration(request, "duration", default_duration, self._max)
        delay = params.query_duration(request, "delay", 0.0, self._max)
        jitter = params.fraction(request.args.get("jitter", "0"), "jitter")
        params.within(duration + delay, "delay and duration", self._max)
        return duration, delay, jitter

    def range_(self, n: str) -> Response:
        shape.record(self._limit)
        size = params.integer(n, "n", 1, params.MAX_BYTES)
        duration = params.query_duration(request, "duration", 0.0, self._max)
        first, last = ranges.requested(request.headers.get("Range"), size)
        chunk = params.chunk_size(request, last + 1 - first)
        body = ranges.alphabet(first, last, chunk, duration / size)
        whole = (first, last) == (0, size - 1)
        response = shape.stream(body, OCTETS, 200 if whole else 206)
        response.headers.update(ranges.headers(first, last, size))
        return response


def _drip(size: int, duration: float) -> Iterator[bytes]:
    """`size` asterisks in at most _MAX_DRIPS pieces, the last one `duration` after the first."""
    pieces = min(size, _MAX_DRIPS)
    pause = duration / (pieces - 1) if pieces > 1 else duration
    for i in range(pieces):
        if i or pieces == 1:
            time.sleep(pause)
        yield b"*" * (size * (i + 1) // pieces - size * i // pieces)


def _paced(items: Iterator[bytes], count: int, duration: float, jitter: float) -> Iterator[bytes]:
    """`count` items spread over `duration` (go-httpbin's pacer); jitter moves each pause,
    never past the whole duration."""
    pause = duration / (count - 1) if count > 1 else 0.0
    end = time.monotonic() + pause * (count - 1)
    for i, item in enumerate(items):
        if i and pause:
            jittered = pause * (1 + jitter * (2 * random.random() - 1))
            time.sleep(max(0.0, min(jittered, end - time.monotonic())))
        yield item


def _event(i: int) -> bytes:
    """go-httpbin's ping event, timestamped when it is sent."""
    data = orjson.dumps({"id": i, "timestamp": int(time.time() * 1000)})
    return b"event: ping\ndata: " + data + b"\n\n"
