"""The cold-start floor echoscope's design sets: its libraries, each set up as its documentation
shows, behind bench.peers.floor's one Flask route.

- Flask, with FlaskInstrumentor on the OpenTelemetry SDK (bench.peers.floor with
  FLOOR_TRACING=on: a TracerProvider and a parent-based sampler);
- structlog, writing one JSON line per request;
- prometheus-client, counting requests in its default registry.

No OTLP exporter: echoscope writes OTLP itself and never imports the SDK exporters' protobuf
and requests, so the floor leaves them out too. `bench.coldstart` starts it on echoscope's
own packages (bench/.venv-service) under stock gunicorn with the peers' flags, beside
echoscope and httpbin: what a start costs before any of echoscope's own code runs. Serve
with `FLOOR_TRACING=on gunicorn bench.peers.floorstart:app`.
"""

from __future__ import annotations

import structlog
from flask import Response, request
from prometheus_client import Counter

from bench.peers.floor import app

structlog.configure(
    processors=[
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.JSONRenderer(),
    ]
)
_log = structlog.get_logger()
_requests = Counter("floor_requests", "Requests answered.", ["method", "status"])


@app.after_request
def _log_and_count(response: Response) -> Response:
    _requests.labels(request.method, str(response.status_code)).inc()
    _log.info("request", method=request.method, path=request.path, status=response.status_code)
    return response
