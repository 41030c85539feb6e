"""A throw-away OTLP/HTTP receiver: answers POST /v1/{traces,metrics,logs} with 200, discards the body.

GET /stats returns how many exports and bytes arrived, so a run can show that
spans were really sent. Run as `python -m bench.sink PORT`; it listens on 127.0.0.1 only.
With `--count-spans` (the soak) it also counts the spans of OTLP/JSON exports.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Counter:
    """Exports and bytes received since start, shared by the handler threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.exports = 0
        self.bytes = 0
        self.spans = 0

    def add(self, size: int, spans: int = 0) -> None:
        with self._lock:
            self.exports += 1
            self.bytes += size
            self.spans += spans

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"exports": self.exports, "bytes": self.bytes, "spans": self.spans}


COUNTER = _Counter()
COUNT_SPANS = "--count-spans" in sys.argv


def _spans(body: bytes) -> int:
    """The spans in an OTLP/JSON ExportTraceServiceRequest."""
    export = json.loads(body)
    return sum(
        len(scope.get("spans", []))
        for resource in export.get("resourceSpans", [])
        for scope in resource.get("scopeSpans", [])
    )


class SinkHandler(BaseHTTPRequestHandler):
    """Accepts OTLP exports and throws them away."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the OTLP exporter's session expects

    def do_POST(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(size)
        as_json = self.headers.get("Content-Type") == "application/json"
        counted = self.path == "/v1/traces" and COUNT_SPANS and as_json
        COUNTER.add(size, _spans(body) if counted else 0)
        status = 200 if self.path in ("/v1/traces", "/v1/metrics", "/v1/logs") else 404
        self._answer(status, b"", "application/x-protobuf")

    def do_GET(self) -> None:
        if self.path != "/stats":
            self._answer(404, b"", "text/plain")
            return
        self._answer(200, json.dumps(COUNTER.snapshot()).encode(), "application/json")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: one line per export would only cost time."""


def serve(port: int) -> None:
    """Serve on 127.0.0.1:port until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", port), SinkHandler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
