"""The do-it-yourself peer: what one would assemble from stock parts in an afternoon.

Flask + prometheus_flask_exporter + FlaskInstrumentor (every request sampled,
OTLP/HTTP to the endpoint in OTEL_EXPORTER_OTLP_ENDPOINT) + python-json-logger,
one JSON log line per request on stdout. Serve with `gunicorn bench.peers.diy:app`.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from flask import Flask, Response, g, jsonify, request
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from prometheus_flask_exporter import PrometheusMetrics
from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics
from pythonjsonlogger.json import JsonFormatter

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _logger() -> logging.Logger:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("diy")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def _tracing(app: Flask) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "diy"}), sampler=ALWAYS_ON)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    FlaskInstrumentor().instrument_app(app, tracer_provider=provider)  # type: ignore[no-untyped-call]


def _metrics(app: Flask) -> None:
    # Several gunicorn workers need prometheus-client's multiprocess mode.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        GunicornInternalPrometheusMetrics(app)
    else:
        PrometheusMetrics(app)


def _record() -> dict[str, object]:
    return {
        "method": request.method,
        "path": request.path,
        "url": request.url,
        "headers": dict(request.headers),
        "args": request.args.to_dict(flat=False),
        "cookies": request.cookies.to_dict(),
        "form": request.form.to_dict(flat=False),
        "json": request.get_json(silent=True),
        "data": request.get_data(as_text=True),
        "remote_addr": request.remote_addr,
    }


def create_app() -> Flask:
    """Wire the stock parts together."""
    app = Flask(__name__)
    log = _logger()
    _metrics(app)
    _tracing(app)

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def log_exchange(response: Response) -> Response:
        span = trace.get_current_span().get_span_context()
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.started) * 1000, 3),
                "user_agent": request.user_agent.string,
                "remote_addr": request.remote_addr,
                "trace_id": format(span.trace_id, "032x"),
                "span_id": format(span.span_id, "016x"),
            },
        )
        return response

    @app.route("/", defaults={"path": ""}, methods=METHODS)
    @app.route("/<path:path>", methods=METHODS)
    def echo(path: str) -> Response:
        return jsonify(_record())

    return app


app = create_app()
