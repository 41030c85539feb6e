"""Traces: a SERVER span per exchange, continuing the caller's trace, exported the standard way.

The provider is created in the worker (create_app runs there, after fork) and
shut down by gunicorn's worker_exit hook. Propagators, sampler and exporter
come from the standard OTEL_* settings; exporter endpoints, headers and the
batch processor's limits are read by the OpenTelemetry SDK itself.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points

from flask import Flask
from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

from service.exchange import pipeline
from service.exchange.identity import Identity
from service.settings import Settings
from service.settings.otlp import OtlpHttp
from service.telemetry import exclusion, spans, tracecontext
from service.telemetry.cloudtrace import LenientCloudTracePropagator
from service.telemetry.firstexport import MadeOnFirstUse

_PROVIDER = "echoscope.tracer_provider"
_SHUTDOWN_TIMEOUT_MILLIS = 3000


def init_app(app: Flask, settings: Settings, identity: Identity) -> None:
    """Instrument the app; call before the other parts so their hooks see the span."""
    if settings.otel_sdk_disabled:
        return
    provider = create_provider(settings, identity)
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
    app.wsgi_app = exclusion.marking(original_wsgi_app, settings.exclude_paths)  # type: ignore[method-assign,assignment]
    pipeline.on_finish(app, spans.finisher(settings))


def create_provider(settings: Settings, identity: Identity) -> TracerProvider:
    """A TracerProvider with this process's resource, sampler and exporter."""
    sampler = exclusion.ExcludedPathSampler(create_sampler(settings))
    provider = TracerProvider(resource=create_resource(identity), sampler=sampler)
    name, protocol = settings.traces_exporter, settings.otlp_traces_protocol
    if name != "none":  # made by the batch thread when it first exports (firstexport.py)
        make = functools.partial(create_exporter, name, protocol, settings.otlp_http["traces"])
        provider.add_span_processor(BatchSpanProcessor(MadeOnFirstUse(make)))
    return provider


def create_resource(identity: Identity) -> Resource:
    """service.*, and the Cloud Run service, revision and configuration when present."""
    attributes: dict[str, str] = {
        "service.name": identity.service,
        "service.version": identity.version,
        "service.instance.id": identity.instance,
    }
    if identity.revision:
        attributes.update({"cloud.platform": "gcp_cloud_run", "faas.version": identity.revision})
        attributes["faas.name"] = identity.service
        attributes["faas.instance"] = identity.instance
    if identity.configuration:
        attributes["gcp.cloud_run.configuration"] = identity.configuration
    return Resource.create(attributes)


def create_sampler(settings: Settings) -> sampling.Sampler:
    """The sampler named by OTEL_TRACES_SAMPLER, with OTEL_TRACES_SAMPLER_ARG for ratios."""
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

    OTLP goes over HTTP, protobuf or JSON as OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says.
    """
    if name == "otlp" and protocol == "http/json":
        from service.telemetry.otlphttp import JsonSender
        from service.telemetry.otlpjson import OTLPJsonSpanExporter

        return OTLPJsonSpanExporter(JsonSender(destination or OtlpHttp()))
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        return ConsoleSpanExporter()
    return None


def create_propagator(names: tuple[str, ...]) -> TextMapPropagator:
    """The propagators of OTEL_PROPAGATORS, in order: later ones win when several match."""
    propagators = [
        LenientCloudTracePropagator()
        if name == "gcp_trace"
        else next(iter(entry_points(group="opentelemetry_propagator", name=name))).load()()
        for name in names
    ]
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


def cloud_facts_listener(app: Flask) -> Callable[[Mapping[str, str]], None]:
    """What service.cloud.instance learns, as span resource attributes."""

    def learn(facts: Mapping[str, str]) -> None:
        names = {"instance_id": "faas.instance", "region": "cloud.region"}
        resource = {names[key]: value for key, value in facts.items() if key in names}
        if resource:
            add_resource(app, resource)

    return learn


def add_resource(app: Flask, attributes: dict[str, str]) -> None:
    """Put `attributes` on the resource of every span started from now on."""
    provider = provider_of(app)
    if provider is not None:
        resource = provider.resource.merge(Resource(attributes))
        provider.add_span_processor(_LateResource(resource))


class _LateResource(SpanProcessor):
    """Gives each new span a resource holding facts learnt after the provider was made.

    A provider's resource is fixed when it is created, but Cloud Run's instance id and
    region come from the metadata server later: start-up never waits for them.
    """

    def __init__(self, resource: Resource) -> None:
        self._resource = resource

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        span._resource = self._resource
