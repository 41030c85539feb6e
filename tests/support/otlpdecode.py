"""What an OTLP receiver decoded: spans, log records and metric data points, as plain objects.

Each signal's export request comes as binary protobuf or as the OTLP JSON
mapping; JSON is parsed into the same protobuf message (strict: an unknown
field or a wrong type fails the request), so a test compares them exactly.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

REQUESTS: dict[str, type[Message]] = {
    "traces": ExportTraceServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "logs": ExportLogsServiceRequest,
}
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def decode(signal: str, body: bytes, content_type: str) -> Message:
    """The export request of `signal` from its body, by Content-Type."""
    message_type = REQUESTS[signal]
    if content_type == "application/x-protobuf":
        return message_type.FromString(body)
    if content_type == "application/json":
        request = json.loads(body)
        _ids_to_base64(request)
        return json_format.ParseDict(request, message_type())
    raise ValueError(f"unexpected Content-Type {content_type!r}")


def decode_json(body: bytes) -> ExportTraceServiceRequest:
    """OTLP JSON spans -> the protobuf message."""
    message = decode("traces", body, "application/json")
    assert isinstance(message, ExportTraceServiceRequest)
    return message


def _ids_to_base64(item: Any) -> None:
    # OTLP JSON writes ids in hex; proto3's JSON mapping (the parser) wants base64.
    if isinstance(item, list):
        for each in item:
            _ids_to_base64(each)
    elif isinstance(item, dict):
        for key, each in item.items():
            if key in _ID_FIELDS and isinstance(each, str):
                item[key] = base64.b64encode(bytes.fromhex(each)).decode("ascii")
            elif key not in ("attributes", "body", "resource", "scope"):
                _ids_to_base64(each)


def value(item: AnyValue) -> Any:
    """An AnyValue as Python: lists and maps unpacked."""
    kind = item.WhichOneof("value")
    if kind == "array_value":
        return [value(each) for each in item.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: value(kv.value) for kv in item.kvlist_value.values}
    return getattr(item, kind) if kind else None


def attributes(pairs: Any) -> dict[str, Any]:
    """A KeyValue list as a dict."""
    return {kv.key: value(kv.value) for kv in pairs}


class ReceivedSpan:
    """One span as the receiver decoded it, with its resource's attributes."""

    def __init__(self, span: Any, resource: dict[str, Any]) -> None:
        self.name: str = span.name
        self.kind: int = span.kind
        self.trace_id = span.trace_id.hex()
        self.span_id = span.span_id.hex()
        self.parent_span_id = span.parent_span_id.hex()
        self.attributes = attributes(span.attributes)
        self.events = [(event.name, attributes(event.attributes)) for event in span.events]
        self.status_code: int = span.status.code
        self.start_time_unix_nano: int = span.start_time_unix_nano
        self.end_time_unix_nano: int = span.end_time_unix_nano
        self.resource = resource


class ReceivedLog:
    """One log record, with its resource and scope."""

    def __init__(self, record: Any, resource: dict[str, Any], scope: str) -> None:
        self.trace_id = record.trace_id.hex()
        self.span_id = record.span_id.hex()
        self.flags: int = record.flags
        self.severity_number: int = record.severity_number
        self.severity_text: str = record.severity_text
        self.body = value(record.body)
        self.attributes = attributes(record.attributes)
        self.time_unix_nano: int = record.time_unix_nano
        self.resource = resource
        self.scope = scope


class ReceivedPoint:
    """One metric data point (a histogram's, a sum's or a gauge's), with its metric and resource."""

    def __init__(self, metric: Any, point: Any, kind: str, resource: dict[str, Any]) -> None:
        self.name: str = metric.name
        self.unit: str = metric.unit
        self.kind = kind
        self.attributes = attributes(point.attributes)
        self.resource = resource
        self.time_unix_nano: int = point.time_unix_nano
        self.count: int = getattr(point, "count", 0)
        self.bounds = list(getattr(point, "explicit_bounds", ()))
        self.bucket_counts = list(getattr(point, "bucket_counts", ()))
        self.value = point.as_double or point.as_int if kind in ("sum", "gauge") else None
        self.exemplars = [
            (exemplar.trace_id.hex(), exemplar.span_id.hex()) for exemplar in point.exemplars
        ]


def spans_of(message: Any) -> list[ReceivedSpan]:
    """Every span of an ExportTraceServiceRequest."""
    found = []
    for resource_spans in message.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            found.extend(ReceivedSpan(span, resource) for span in scope_spans.spans)
    return found


def logs_of(message: Any) -> list[ReceivedLog]:
    """Every log record of an ExportLogsServiceRequest."""
    found = []
    for resource_logs in message.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope.name
            found.extend(ReceivedLog(record, resource, scope) for record in scope_logs.log_records)
    return found


def points_of(message: Any) -> list[ReceivedPoint]:
    """Every data point of an ExportMetricsServiceRequest."""
    found = []
    for resource_metrics in message.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                found.extend(
                    ReceivedPoint(metric, point, kind, resource)
                    for point in getattr(metric, kind).data_points
                )
    return found
