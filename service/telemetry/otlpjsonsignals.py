"""The OTLP JSON encoding of metrics and log records (`..._PROTOCOL=http/json`).

otlpposted's exporters post these bodies with echoscope's sender. Log records are
written straight to OTLP JSON with orjson, one per exchange; metrics, sent
once per export interval, go through the SDK's own protobuf encoder and
protobuf's JSON mapping, with the two differences OTLP JSON makes: trace and
span ids in hex, enums as integers. Metrics are cumulative, as /metrics counts.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import orjson
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.metrics.export import MetricsData
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from service.telemetry import otlpgroups
from service.telemetry.otlpjson import JsonObject, attributes, value


def encode_metrics_json(metrics_data: MetricsData) -> bytes:
    """An ExportMetricsServiceRequest in the OTLP JSON encoding."""
    message = json_format.MessageToDict(
        encode_metrics(metrics_data),
        use_integers_for_enums=True,
        always_print_fields_with_no_presence=False,
    )
    for resource_metrics in message.get("resourceMetrics", ()):
        for scope_metrics in resource_metrics.get("scopeMetrics", ()):
            for metric in scope_metrics.get("metrics", ()):
                for kind in ("histogram", "sum", "gauge", "exponentialHistogram"):
                    for point in metric.get(kind, {}).get("dataPoints", ()):
                        for exemplar in point.get("exemplars", ()):
                            _hex_ids(exemplar)
    return orjson.dumps(message)


def _hex_ids(item: JsonObject) -> None:
    # proto3's JSON mapping writes bytes in base64; OTLP JSON writes ids in hex.
    for key in ("traceId", "spanId"):
        if key in item:
            item[key] = base64.b64decode(item[key]).hex()


def encode_logs(batch: Sequence[ReadableLogRecord]) -> bytes:
    """An ExportLogsServiceRequest in the OTLP JSON encoding."""
    encoded = [
        {
            "resource": {"attributes": attributes(resource.attributes)},
            "scopeLogs": [_scope_logs(scope, records) for scope, records in scopes.items()],
        }
        for resource, scopes in otlpgroups.by_resource(batch, _log_record)
    ]
    return orjson.dumps({"resourceLogs": encoded})


def _scope_logs(scope: InstrumentationScope | None, records: list[JsonObject]) -> JsonObject:
    if scope is None:
        return {"scope": {}, "logRecords": records}
    encoded: JsonObject = {"scope": {"name": scope.name}, "logRecords": records}
    if scope.version:
        encoded["scope"]["version"] = scope.version
    return encoded


def _log_record(readable: ReadableLogRecord) -> JsonObject:
    record = readable.log_record
    encoded: JsonObject = {
        "observedTimeUnixNano": str(record.observed_timestamp),
        "attributes": attributes(record.attributes),
        "flags": int(record.trace_flags or 0),
    }
    if record.timestamp:
        encoded["timeUnixNano"] = str(record.timestamp)
    if record.severity_number is not None:
        encoded["severityNumber"] = record.severity_number.value
    if record.severity_text:
        encoded["severityText"] = record.severity_text
    if record.body is not None:
        encoded["body"] = value(record.body)
    if record.trace_id:
        encoded["traceId"] = f"{record.trace_id:032x}"
        encoded["spanId"] = f"{record.span_id:016x}"
    if record.event_name:
        encoded["eventName"] = record.event_name
    if readable.dropped_attributes:
        encoded["droppedAttributesCount"] = readable.dropped_attributes
    return encoded
