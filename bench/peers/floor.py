"""The floor echoscope's design sets: Flask, plus FlaskInstrumentor on the OpenTelemetry SDK.

A view answering what the bare peer answers (method, path, headers, body size, orjson),
so the rows of `bench.instructions` show what Flask's request cycle and the
instrumentation cost by themselves: `FLOOR_TRACING` = `off` (Flask alone), `on` (the
instrumentation with a parent-based sampler; the caller's traceparent decides, as on
Cloud Run) or `exported` (the same, sampled spans exported over OTLP/HTTP protobuf to
OTEL_EXPORTER_OTLP_ENDPOINT). Serve with `gunicorn bench.peers.floor:app`.
"""

from __future__ import annotations

import os

import orjson
from flask import Flask, Response, request

app = Flask("floor")


@app.route("/anything", methods=["GET", "POST"])
def anything() -> Response:
    """The bare peer's record, through Flask's request object."""
    body = request.get_data()
    record = {
        "method": request.method,
        "path": request.path,
        "headers": dict(request.headers),
        "body_size": len(body),
    }
    return Response(orjson.dumps(record), mimetype="application/json")


def _instrument(exported: bool) -> None:
    from opentelemetry import trace
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    sampler = ParentBased(TraceIdRatioBased(0.01))
    provider = TracerProvider(resource=Resource.create({"service.name": "floor"}), sampler=sampler)
    if exported:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)  # bench.instructions flushes it before counting
    FlaskInstrumentor().instrument_app(app, tracer_provider=provider)  # type: ignore[no-untyped-call]


_TRACING = os.environ.get("FLOOR_TRACING", "off")
if _TRACING != "off":
    _instrument(exported=_TRACING == "exported")
