"""Traces: a SERVER span per exchange, continuing the caller's trace, exported the standard way.

The provider is created in the worker (create_app runs there, after fork) and
shut down by gunicorn's worker_exit hook. Propagators, sampler and exporter
come from the standard OTEL_* settings; exporter endpoints, headers and the
batch processor's limits are read by the OpenTelemetry SDK itself.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

from flask import Flask
from opentelemetry import propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from service.exchange import pipeline
from service.settings import Settings
from service.settings.otlp import OtlpHttp
from service.telemetry import tracecontext
from service.telemetry.cloudtrace import LenientCloudTracePropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider, sampling
    from opentelemetry.sdk.trace.export import SpanExporter

_PROVIDER = "echoscope.tracer_provider"
_SHUTDOWN_TIMEOUT_MILLIS = 3000


def init_app(app: Flask, settings: Settings, resource: Resource) -> None:
    """Instrument the app; call before the other parts so their hooks see the span."""
    if settings.otel_sdk_disabled:
        return
    # The SDK, the instrumentation and their parts are imported only when tracing is on.
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    from service.telemetry import spans

    provider = create_provider(settings, resource)
    app.extensions[_PROVIDER] = provider
    propagate.set_global_textmap(create_propagator(settings.propagators))
    # The instrumentation reads OTEL_SEMCONV_STABILITY_OPT_IN itself (it has no parameter for
    # it): config/gunicorn.conf.py and the image default it to `http`, the stable names.
    original_wsgi_app = app.wsgi_app
    FlaskInstrumentor.instrument_app(  # type: ignore[no-untyped-call]
        app,
        tracer_provider=provider,
        excluded_urls="",  # none: the sampler drops ECHO_EXCLUDE_PATHS (telemetry/exclusion.py)
        meter_provider=NoOpMeterProvider(),
        enable_commenter=False,  # no database here to tag
    )
    # The instrumentation's WSGI wrapper records OTel metrics (echoscope's metrics are
    # Prometheus ones) and response attributes, recomputing every request attribute to
    # do so; the span finisher below sets the response attributes from the response.
    app.wsgi_app = original_wsgi_app  # type: ignore[method-assign]
    pipeline.on_finish(app, spans.finisher(settings))


def create_provider(settings: Settings, resource: Resource) -> TracerProvider:
    """A TracerProvider with this worker's resource, sampler and exporter."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from service.telemetry import exclusion
    from service.telemetry.firstexport import MadeOnFirstUse

    sampler = exclusion.ExcludedPathSampler(create_sampler(settings))
    provider = TracerProvider(resource=resource, sampler=sampler)
    name, protocol = settings.traces_exporter, settings.otlp_traces_protocol
    if name != "none":  # made by the batch thread when it first exports (firstexport.py)
        make = functools.partial(create_exporter, name, protocol, settings.otlp_http["traces"])
        provider.add_span_processor(BatchSpanProcessor(MadeOnFirstUse(make)))
    return provider


def create_sampler(settings: Settings) -> sampling.Sampler:
    """The sampler named by OTEL_TRACES_SAMPLER, with OTEL_TRACES_SAMPLER_ARG for ratios."""
    from opentelemetry.sdk.trace import sampling

    name, ratio = settings.traces_sampler, settings.traces_sampler_arg
    root: sampling.Sampler = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": sampling.TraceIdRatioBased(ratio),
    }[name.removeprefix("parentbased_")]
    return sampling.ParentBased(root) if name.startswith("parentbased_") else root


def create_exporter(
    name: str, protocol: str = "http/protobuf", destination: OtlpHttp | None = None
) -> SpanExporter | None:
    """The exporter named by OTEL_TRACES_EXPORTER; `none` creates spans but sends none.

    OTLP goes over http/protobuf, http/json or grpc as OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says.
    """
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    from service.telemetry import otlpexporters

    if name == "otlp":
        return otlpexporters.span_exporter(protocol, destination or OtlpHttp())
    if name == "console":
        return ConsoleSpanExporter()
    return None


# The names settings.parse.PROPAGATORS allows, made directly as the API does for its default:
# looking them up as entry points scans every installed distribution (~45M instructions).
_PROPAGATORS: dict[str, type[TextMapPropagator]] = {
    "gcp_trace": LenientCloudTracePropagator,
    "tracecontext": TraceContextTextMapPropagator,
    "baggage": W3CBaggagePropagator,
}


def create_propagator(names: tuple[str, ...]) -> TextMapPropagator:
    """The propagators of OTEL_PROPAGATORS, in order: later ones win when several match."""
    propagators = [_PROPAGATORS[name]() for name in names]
    return tracecontext.Remembering(CompositePropagator(propagators))


def shutdown(app: Flask) -> None:
    """Flush and stop this worker's provider (gunicorn's worker_exit hook calls this).

    Bounded: a hung collector must not hold the worker past Cloud Run's grace period.
    """
    provider = app.extensions.get(_PROVIDER)
    if provider is not None:
        stopper = threading.Thread(target=_flush_and_stop, args=(provider,), daemon=True)
        stopper.start()
        stopper.join(_SHUTDOWN_TIMEOUT_MILLIS / 1000)


def _flush_and_stop(provider: TracerProvider) -> None:
    provider.force_flush(_SHUTDOWN_TIMEOUT_MILLIS)
    provider.shutdown()


def provider_of(app: Flask) -> TracerProvider | None:
    """This app's tracer provider; None when OTEL_SDK_DISABLED is set."""
    provider: TracerProvider | None = app.extensions.get(_PROVIDER)
    return provider
