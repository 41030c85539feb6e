"""Metrics over OTLP: the instruments of /metrics, pushed by the OpenTelemetry metrics SDK.

With `otlp` in OTEL_METRICS_EXPORTER each worker has its own MeterProvider
(its resource carries that worker's `service.instance.id`, so several workers
need no shared files) and a PeriodicExportingMetricReader
(OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRIC_EXPORT_TIMEOUT). The instruments
are those of /metrics in OpenTelemetry's names, units, bucket boundaries and
attributes; each observation is made inside the exchange's span, so the
SDK's trace-based exemplar filter keeps its trace and span ids. Off, nothing
here is imported or attached.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flask import Flask, g
from opentelemetry.metrics import CallbackOptions, Histogram, Meter, Observation
from opentelemetry.sdk.resources import Resource
from opentelemetry.util.types import Attributes

from service import __version__
from service.exchange import pipeline
from service.exchange.outcome import DownstreamCall, Outcome
from service.settings import Settings
from service.telemetry import otlpexporters, processmetrics
from service.telemetry.metrics import DURATION_BUCKETS, SIZE_BUCKETS

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider

_PROVIDER = "echoscope.meter_provider"
_SHUTDOWN_TIMEOUT_MILLIS = 3000


def init_app(app: Flask, settings: Settings, resource: Resource) -> None:
    """Push this worker's request metrics over OTLP when OTEL_METRICS_EXPORTER lists `otlp`."""
    if not settings.otlp_metrics:
        return
    provider = create_provider(settings, resource)
    app.extensions[_PROVIDER] = provider
    instruments = Instruments(provider.get_meter("echoscope", __version__))
    processmetrics.observe(provider.get_meter("echoscope.process", __version__))
    app.before_request(instruments.enter)
    app.teardown_request(instruments.leave)
    pipeline.on_finish(app, instruments.observe)


def create_provider(settings: Settings, resource: Resource) -> MeterProvider:
    """A MeterProvider exporting over OTLP every OTEL_METRIC_EXPORT_INTERVAL."""
    from opentelemetry.sdk.metrics import MeterProvider  # the SDK only with OTLP metrics on
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    reader = PeriodicExportingMetricReader(
        otlpexporters.metric_exporter(
            settings.otlp_metrics_protocol, settings.otlp_http["metrics"]
        ),
        export_interval_millis=settings.metric_export_interval_millis,
        export_timeout_millis=settings.metric_export_timeout_millis,
    )
    # Shut down by worker_exit, bounded; not again at interpreter exit.
    return MeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)


class Instruments:
    """The OTLP twins of /metrics' series, recorded from each exchange's Outcome."""

    def __init__(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP server requests.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.request_size = _size_histogram(meter, "request", "Size of HTTP server request bodies.")
        self.response_size = _size_histogram(
            meter, "response", "Size of HTTP server response bodies."
        )
        self._active = ActiveRequests()
        meter.create_observable_up_down_counter(
            "http.server.active_requests",
            [self._active.observe],
            unit="{request}",
            description="Number of active HTTP server requests.",
        )
        self.client_duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests (/call's downstream calls).",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )

    def enter(self) -> None:
        """One more active request (a before_request hook)."""
        current = pipeline.current()
        key = (current.method, current.request.scheme)
        self._active.add(key, 1)
        g.otlp_active_request = key

    def leave(self, _: BaseException | None) -> None:
        """One fewer, however the request ended, and nothing when `enter` never ran."""
        key = g.pop("otlp_active_request", None)
        if key is not None:
            self._active.add(key, -1)

    def observe(self, outcome: Outcome) -> None:
        """Record the exchange (a finisher: inside its span, so sampled ones keep exemplars)."""
        attributes = server_attributes(outcome)
        self.duration.record(outcome.elapsed, attributes)
        self.request_size.record(outcome.request_size, attributes)
        self.response_size.record(outcome.response_size, attributes)
        for call in outcome.calls:
            self.client_duration.record(call.duration, client_attributes(call))


class ActiveRequests:
    """In-flight requests by (method, scheme), read by the reader when it collects.

    An up-down counter would be two SDK measurements per request (each hashes its
    attributes, takes a lock and offers an exemplar); a count under a lock costs
    next to nothing, and the exported value is the same.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def add(self, key: tuple[str, str], delta: int) -> None:
        """Count one request in (+1) or out (-1)."""
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + delta

    def observe(self, _: CallbackOptions) -> Iterable[Observation]:
        """The current counts, one observation per series seen so far."""
        with self._lock:
            counts = list(self._counts.items())
        return [
            Observation(count, {"http.request.method": method, "url.scheme": scheme})
            for (method, scheme), count in counts
        ]


def _size_histogram(meter: Meter, which: str, description: str) -> Histogram:
    return meter.create_histogram(
        f"http.server.{which}.body.size",
        unit="By",
        description=description,
        explicit_bucket_boundaries_advisory=SIZE_BUCKETS,
    )


def server_attributes(outcome: Outcome) -> Attributes:
    """The attributes of the server histograms: /metrics' labels, absent where empty."""
    attributes: dict[str, str | int] = {
        "http.request.method": outcome.method,
        "http.response.status_code": outcome.status,
        "url.scheme": outcome.record["scheme"],
    }
    if outcome.route:
        attributes["http.route"] = outcome.route
    error = outcome.semconv_error_type
    if error:
        attributes["error.type"] = error
    version = outcome.protocol_version
    if version:
        attributes["network.protocol.version"] = version
    return attributes


def client_attributes(call: DownstreamCall) -> Attributes:
    """The attributes of http.client.request.duration for one downstream call."""
    attributes: dict[str, str | int] = {
        "http.request.method": call.method,
        "server.address": call.server_address,
    }
    if call.server_port:
        attributes["server.port"] = call.server_port
    if call.status is not None:
        attributes["http.response.status_code"] = call.status
    if call.error_type:
        attributes["error.type"] = call.error_type
    return attributes


def shutdown(app: Flask) -> None:
    """Export the last values and stop (gunicorn's worker_exit hook calls this), bounded."""
    provider: MeterProvider | None = app.extensions.get(_PROVIDER)
    if provider is not None:
        _bounded(lambda: provider.shutdown(timeout_millis=_SHUTDOWN_TIMEOUT_MILLIS))


def _bounded(stop: Callable[[], object]) -> None:
    # A hung collector must not hold the worker past Cloud Run's grace period.
    stopper = threading.Thread(target=stop, daemon=True)
    stopper.start()
    stopper.join(_SHUTDOWN_TIMEOUT_MILLIS / 1000)
