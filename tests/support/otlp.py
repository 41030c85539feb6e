"""A real OTLP/HTTP receiver on 127.0.0.1: decodes ExportTraceServiceRequest with opentelemetry-proto.

Both OTLP/HTTP encodings, by Content-Type: binary protobuf, and the OTLP JSON
mapping, parsed into the same protobuf message (strict: an unknown field or a
wrong type fails the request with 400), so a test compares them exactly.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def decode_json(body: bytes) -> ExportTraceServiceRequest:
    """OTLP JSON -> the protobuf message (OTLP JSON ids are hex; proto3 JSON's bytes are base64)."""
    request = json.loads(body)
    for resource_spans in request.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                _ids_to_base64(span)
                for link in span.get("links", []):
                    _ids_to_base64(link)
    return json_format.ParseDict(request, ExportTraceServiceRequest())


def _ids_to_base64(item: dict[str, Any]) -> None:
    for key in _ID_FIELDS:
        if key in item:
            item[key] = base64.b64encode(bytes.fromhex(item[key])).decode("ascii")


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None


class ReceivedSpan:
    """One span as the receiver decoded it, with its resource's attributes."""

    def __init__(self, span: Any, resource: dict[str, Any]) -> None:
        self.name: str = span.name
        self.kind: int = span.kind
        self.trace_id = span.trace_id.hex()
        self.span_id = span.span_id.hex()
        self.parent_span_id = span.parent_span_id.hex()
        self.attributes = {kv.key: _value(kv.value) for kv in span.attributes}
        self.events = [
            (event.name, {kv.key: _value(kv.value) for kv in event.attributes})
            for event in span.events
        ]
        self.resource = resource
        self.start_time_unix_nano: int = span.start_time_unix_nano
        self.end_time_unix_nano: int = span.end_time_unix_nano
        self.events = [
            (event.name, {kv.key: _value(kv.value) for kv in event.attributes})
            for event in span.events
        ]


class OtlpReceiver:
    """Accepts POST /v1/traces; `hang=True` makes it never answer (a stuck collector)."""

    def __init__(self, hang: bool = False) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self.content_types: list[str] = []
        self._lock = threading.Lock()
        self._hang = threading.Event()
        if hang:
            self._hang.set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver._hang.is_set():
                    time.sleep(60)
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                content_type = self.headers.get("Content-Type", "")
                try:
                    receiver._accept(body, content_type)
                except (ValueError, json_format.ParseError) as error:
                    self.send_error(400, str(error))
                    return
                as_json = content_type == "application/json"
                reply = b"{}" if as_json else ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def _accept(self, body: bytes, content_type: str) -> None:
        if content_type == "application/json":
            message = decode_json(body)
        elif content_type == "application/x-protobuf":
            message = ExportTraceServiceRequest.FromString(body)
        else:
            raise ValueError(f"unexpected Content-Type {content_type!r}")
        spans = []
        for resource_spans in message.resource_spans:
            resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                spans.extend(ReceivedSpan(span, resource) for span in scope_spans.spans)
        with self._lock:
            self.requests += 1
            self.content_types.append(content_type)
            self.spans.extend(spans)

    def env(self, protocol: str = "http/protobuf") -> dict[str, str]:
        """The settings that make echoscope export to this receiver, quickly."""
        return {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }

    def wait_for(self, count: int, timeout: float = 10, **match: Any) -> list[ReceivedSpan]:
        """Poll until `count` spans whose attributes named in `match` equal those values arrived."""
        deadline = time.monotonic() + timeout
        found: list[ReceivedSpan] = []
        while time.monotonic() < deadline:
            with self._lock:
                found = [s for s in self.spans if all(getattr(s, k) == v for k, v in match.items())]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{len(found)} of {count} spans matching {match} after {timeout}s")

    def close(self) -> None:
        self._hang.clear()
        self._server.shutdown()
        self._server.server_close()
