"""Metrics: OpenTelemetry HTTP semantic conventions in Prometheus form, at /metrics.

One worker: a registry of our own with the process and platform collectors,
and exemplars (trace_id, span_id) on the observations of sampled requests.
Several workers (PROMETHEUS_MULTIPROC_DIR set by config/gunicorn.conf.py):
prometheus-client's multiprocess mode, a fresh collector per scrape (promfiles.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextvars import ContextVar

from flask import Flask, Response, request
from opentelemetry.sdk.resources import Resource
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    exposition,
    gc_collector,
    platform_collector,
    process_collector,
)

from service.exchange import pipeline, routing
from service.exchange.identity import Identity
from service.exchange.outcome import Outcome
from service.settings import Settings
from service.telemetry import promfiles, targetinfo

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
SIZE_BUCKETS = (0, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)
_LABELS = (
    "http_request_method",
    "http_route",
    "http_response_status_code",
    "url_scheme",
    "error_type",
    "network_protocol_version",
)
_CLIENT_LABELS = (
    "http_request_method",
    "server_address",
    "server_port",
    "http_response_status_code",
    "error_type",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Instruments:
    """The metric objects of one app, registered in their own registry."""

    registry: CollectorRegistry
    duration: Histogram
    request_size: Histogram
    response_size: Histogram
    active: Gauge
    build_info: Gauge
    client_duration: Histogram
    websocket_messages: Counter


def create_instruments(identity: Identity, multiprocess_mode: bool) -> Instruments:
    """Create every metric (the README's metric table) in a fresh registry."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created: noise here
    registry = CollectorRegistry()
    if not multiprocess_mode:
        process_collector.ProcessCollector(registry=registry)
        platform_collector.PlatformCollector(registry=registry)
        gc_collector.GCCollector(registry=registry)
    instruments = Instruments(
        registry=registry,
        duration=Histogram(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests.",
            _LABELS,
            registry=registry,
            buckets=DURATION_BUCKETS,
        ),
        request_size=Histogram(
            "http_server_request_body_size_bytes",
            "Size of HTTP server request bodies.",
            _LABELS,
            registry=registry,
            buckets=SIZE_BUCKETS,
        ),
        response_size=Histogram(
            "http_server_response_body_size_bytes",
            "Size of HTTP server response bodies.",
            _LABELS,
            registry=registry,
            buckets=SIZE_BUCKETS,
        ),
        active=Gauge(
            "http_server_active_requests",
            "Number of active HTTP server requests.",
            ("http_request_method", "url_scheme"),
            registry=registry,
            multiprocess_mode="livesum",
        ),
        build_info=Gauge(
            "echoscope_build_info",
            "echoscope build information; always 1.",
            ("version", "python_version", "revision"),
            registry=registry,
            multiprocess_mode="max",
        ),
        client_duration=Histogram(
            "http_client_request_duration_seconds",
            "Duration of HTTP client requests (/call's downstream calls).",
            _CLIENT_LABELS,
            registry=registry,
            buckets=DURATION_BUCKETS,
        ),
        websocket_messages=_websocket_messages(registry),
    )
    instruments.build_info.labels(
        identity.version, identity.python_version, identity.revision or ""
    ).set(1)
    return instruments


def _websocket_messages(registry: CollectorRegistry) -> Counter:
    return Counter(
        "echoscope_websocket_messages",
        "WebSocket messages of /websocket/echo, by direction (received, sent).",
        ("direction",),
        registry=registry,
    )


def init_app(app: Flask, settings: Settings, identity: Identity, resource: Resource) -> None:
    """Time every request and serve /metrics (Prometheus text, or OpenMetrics on request)."""
    instruments = create_instruments(identity, settings.multiprocess)
    targetinfo.gauge(instruments.registry, resource)
    app.extensions["echoscope.metrics"] = instruments
    routing.add_strict_rule(
        app,
        "/metrics",
        "metrics",
        _metrics_view(instruments, settings.multiprocess),
        routing.READ,
    )
    if not settings.prometheus_metrics:
        return
    active = _ActiveRequests(instruments.active)
    app.before_request(active.enter)
    app.teardown_request(active.leave)
    pipeline.on_finish(app, _observer(instruments, exemplars=not settings.multiprocess))


# The gauge child this thread's request raised (a context variable: `flask.g` is a proxy).
_raised: ContextVar[Gauge | None] = ContextVar("echoscope_active_request", default=None)


class _ActiveRequests:
    """http_server_active_requests: up when a request starts, down however it ends."""

    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge
        self._children = {
            (method, scheme): gauge.labels(method, scheme)
            for method in _METHOD_LABELS
            for scheme in ("http", "https")
        }

    def enter(self) -> None:
        current = pipeline.current()
        key = (current.method, current.request.scheme)
        child = self._children.get(key)
        if child is None:  # a scheme set by a trusted proxy: one lookup
            child = self._gauge.labels(*key)
        child.inc()
        _raised.set(child)

    def leave(self, _: BaseException | None) -> None:
        # Undo exactly what enter did, and nothing when it never ran (a teardown always
        # follows an enter in the same thread, and empties the variable for the next one).
        child = _raised.get()
        if child is not None:
            _raised.set(None)
            child.dec()


_METHOD_LABELS = (*sorted(routing.KNOWN_METHODS), routing.OTHER_METHOD)


def _observer(instruments: Instruments, exemplars: bool) -> Callable[[Outcome], None]:
    # One labels() lookup (a lock and a label check each) per new series, not 3 per request.
    children: dict[tuple[str, ...], list[Histogram]] = {}
    metrics = (instruments.duration, instruments.request_size, instruments.response_size)

    def observe(outcome: Outcome) -> None:
        labels = (
            outcome.method,
            outcome.route,
            str(outcome.status),
            outcome.record["scheme"],
            error_type(outcome),
            outcome.protocol_version,
        )
        series = children.get(labels)
        if series is None:
            series = children[labels] = [metric.labels(*labels) for metric in metrics]
        ids = outcome.trace
        exemplar = (
            {"trace_id": ids.trace_id, "span_id": ids.span_id}
            if exemplars and ids and ids.sampled
            else None
        )
        series[0].observe(outcome.elapsed, exemplar)
        series[1].observe(outcome.request_size)
        series[2].observe(outcome.response_size)
        for call in outcome.calls:
            status = str(call.status) if call.status is not None else ""
            port = str(call.server_port) if call.server_port else ""
            instruments.client_duration.labels(
                call.method, call.server_address, port, status, call.error_type
            ).observe(call.duration)
        if outcome.websocket is not None:
            instruments.websocket_messages.labels("received").inc(
                outcome.websocket.messages_received
            )
            instruments.websocket_messages.labels("sent").inc(outcome.websocket.messages_sent)

    return observe


def error_type(outcome: Outcome) -> str:
    """OpenTelemetry's `error.type`: the exception's type, the status code of a 5xx, or ""."""
    return outcome.semconv_error_type


def _metrics_view(instruments: Instruments, multiprocess_mode: bool) -> Callable[[], Response]:
    def metrics() -> Response:
        encoder, content_type = exposition.choose_encoder(request.headers.get("Accept", ""))
        registry = instruments.registry
        if multiprocess_mode:
            registry = CollectorRegistry()
            promfiles.SettledFilesCollector(registry)  # type: ignore[no-untyped-call]
        return Response(encoder(registry), headers={"Content-Type": content_type})

    return metrics
