"""The application factory: a short list of parts being attached."""

from __future__ import annotations

from typing import IO

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from service.calls import routes as calls_routes
from service.cloud import instance
from service.echo import body, cors, health, openapi, record, websocket
from service.echo import routes as echo_routes
from service.exchange import errors, identity, pipeline, routing
from service.exchange.application import EchoscopeFlask
from service.httpbin import (
    about,
    auth,
    caching,
    cookies,
    digest,
    documents,
    dynamic,
    encodings,
    images,
    inspection,
    redirects,
    reflect,
    streams,
    wire,
)
from service.inspector import routes as inspector_routes
from service.settings import Settings
from service.telemetry import (
    logfields,
    logs,
    metrics,
    otelresource,
    otlplogs,
    otlpmetrics,
    spanfaults,
    tracing,
)


def create_app(settings: Settings, log_stream: IO[bytes] | None = None) -> Flask:
    """Build echoscope for one worker process; the order of the parts is the order of the hooks
    (tests/unit/test_app.py holds the order that matters)."""
    app = EchoscopeFlask("echoscope", static_folder=None)  # no /static route: every path echoes
    app.request_class = body.EchoRequest
    app.config.update(DEBUG=False, TESTING=False)
    app.config[logs.LOG_STREAM] = log_stream
    routing.use_any_path(app)
    routing.answer_options(app)
    me = identity.of_process(settings)
    resource = otelresource.of_process(me)  # one resource for spans, metrics and log records
    tracing.init_app(app, settings, resource)  # first: every later hook runs inside the span
    spanfaults.init_app(app)  # a faulted exchange's event, while its span is open
    pipeline.init_app(app, settings, me, record)
    facts = instance.init_app(app, settings)  # right after: every exchange's `server` gets them
    cors.init_app(app, settings)
    metrics.init_app(app, settings, me, resource)
    otlpmetrics.init_app(app, settings, resource)
    otlplogs.init_app(app, settings, resource)
    logs.init_app(app, settings, me)
    facts.subscribe(logfields.cloud_trace.learn)
    errors.init_app(app, settings)
    health.init_app(app, settings)
    openapi.init_app(app, settings)
    outbound = calls_routes.outbound_of(app, settings)  # one client: /call's and the replay's
    inspector_routes.init_app(app, settings, facts, outbound)
    echo_routes.init_app(app, settings)
    inspection.init_app(app, settings)
    about.init_app(app, settings)
    wire.init_app(app, settings)
    cookies.init_app(app, settings)
    auth.init_app(app, settings)
    digest.init_app(app, settings)
    redirects.init_app(app, settings)
    encodings.init_app(app, settings)
    documents.init_app(app, settings)
    images.init_app(app, settings)
    caching.init_app(app, settings)
    reflect.init_app(app, settings)
    dynamic.init_app(app, settings)
    streams.init_app(app, settings)
    calls_routes.init_app(app, settings, outbound)
    websocket.init_app(app, settings)
    if settings.trusted_proxy_hops:
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    return app
