"""OTLP/HTTP with the JSON encoding for metrics and log records (`..._PROTOCOL=http/json`).

As for spans (service.otlpjson), the SDK's OTLP/HTTP exporters keep their
role (endpoint, headers, timeout, compression, TLS, retries from the standard
variables); only the body differs. Log records are written straight to OTLP
JSON with orjson, one per exchange; metrics, sent once per export interval,
go through the SDK's own protobuf encoder and protobuf's JSON mapping, with
the two differences OTLP JSON makes: trace and span ids in hex, enums as
integers.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExportResult, MetricsData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from service.telemetry.otlpjson import CONTENT_TYPE, JsonObject, attributes, value


class OTLPJsonMetricExporter(OTLPMetricExporter):
    """The SDK's OTLP/HTTP metric exporter, sending OTLP JSON."""

    def __init__(self) -> None:
        super().__init__(headers={"Content-Type": CONTENT_TYPE})

    def export(
        self, metrics_data: MetricsData, timeout_millis: float | None = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Encode the metrics as OTLP JSON and send them with the SDK's HTTP client."""
        if self._shutdown:
            return MetricExportResult.FAILURE
        result = self._client.export(encode_metrics_json(metrics_data))
        return MetricExportResult.SUCCESS if result.success else MetricExportResult.FAILURE


class OTLPJsonLogExporter(OTLPLogExporter):
    """The SDK's OTLP/HTTP log record exporter, sending OTLP JSON encoded with orjson."""

    def __init__(self) -> None:
        super().__init__(headers={"Content-Type": CONTENT_TYPE})

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Encode the batch as OTLP JSON and send it with the SDK's HTTP client."""
        if self._shutdown:
            return LogRecordExportResult.FAILURE
        result = self._client.export(encode_logs(batch))
        return LogRecordExportResult.SUCCESS if result.success else LogRecordExportResult.FAILURE


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
    resources: dict[int, Resource] = {}
    grouped: dict[int, dict[InstrumentationScope | None, list[JsonObject]]] = {}
    for readable in batch:
        resources.setdefault(id(readable.resource), readable.resource)
        scopes = grouped.setdefault(id(readable.resource), {})
        scopes.setdefault(readable.instrumentation_scope, []).append(_log_record(readable))
    encoded = [
        {
            "resource": {"attributes": attributes(resources[key].attributes)},
            "scopeLogs": [_scope_logs(scope, records) for scope, records in scopes.items()],
        }
        for key, scopes in grouped.items()
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
