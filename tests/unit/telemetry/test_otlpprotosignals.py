"""Metrics and log records over the default protocol (http/protobuf): echoscope's exporters,
posted to a real listener and decoded there with opentelemetry-proto's message classes."""

from __future__ import annotations

import gzip
import math
from typing import Any

import pytest
from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from service.settings import Settings
from service.telemetry import otlpexporters, otlplogs, otlpmetrics
from service.telemetry.otlphttp import USER_AGENT
from service.telemetry.otlpposted import PostedLogExporter, PostedMetricExporter
from tests.support.listener import Listener
from tests.unit.telemetry.test_otlpprotologs import exchange_records

CUMULATIVE = 2  # AGGREGATION_TEMPORALITY_CUMULATIVE


def _settings(listener: Listener, **more: str) -> Settings:
    return Settings.from_env(
        {
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": listener.url,
            "OTEL_EXPORTER_OTLP_HEADERS": "x-team=echo",
            **more,
        }
    )


def test_metrics_go_as_echoscopes_protobuf_cumulative_with_exemplars() -> None:
    listener = Listener()
    settings = _settings(listener, OTEL_EXPORTER_OTLP_METRICS_COMPRESSION="gzip")
    exporter = otlpexporters.metric_exporter(
        settings.otlp_metrics_protocol, settings.otlp_http["metrics"]
    )
    assert isinstance(exporter, PostedMetricExporter)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=math.inf)
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"n": 1}))
    duration = otlpmetrics.Instruments(provider.get_meter("echoscope", "0.1.0")).duration
    tracer = TracerProvider().get_tracer("probe")
    try:
        for recorded in (3, 2):  # two exports: the second counts all five
            with tracer.start_as_current_span("sampled"):
                for _ in range(recorded):
                    duration.record(0.02, {"http.route": "/x", "http.response.status_code": 200})
            assert provider.force_flush()
    finally:
        provider.shutdown()
    first, second = listener.wait_for(2)[:2]
    assert second.path == "/v1/metrics" and second.headers["x-team"] == "echo"
    assert second.headers["content-type"] == "application/x-protobuf"
    assert second.headers["content-encoding"] == "gzip"
    assert second.headers["user-agent"] == USER_AGENT
    histograms = [_histogram(received.body) for received in (first, second)]
    assert [h.data_points[0].count for h in histograms] == [3, 5]
    assert {h.aggregation_temporality for h in histograms} == {CUMULATIVE}
    (exemplar, *_) = histograms[1].data_points[0].exemplars
    assert len(exemplar.trace_id) == 16 and len(exemplar.span_id) == 8


def _histogram(body: bytes) -> Any:
    message = ExportMetricsServiceRequest.FromString(gzip.decompress(body))
    (resource_metrics,) = message.resource_metrics
    assert resource_metrics.resource.attributes[0].key  # the resource went along
    (scope_metrics,) = resource_metrics.scope_metrics
    assert scope_metrics.scope.name == "echoscope"
    (metric,) = [m for m in scope_metrics.metrics if m.name == "http.server.request.duration"]
    return metric.histogram


def test_log_records_go_as_the_sdk_encoders_bytes() -> None:
    listener = Listener()
    settings = _settings(listener)
    exporter = otlpexporters.log_exporter(settings.otlp_logs_protocol, settings.otlp_http["logs"])
    assert isinstance(exporter, PostedLogExporter)
    batch = exchange_records(5)
    try:
        assert exporter.export(batch) is LogRecordExportResult.SUCCESS
    finally:
        exporter.shutdown()
    (received,) = listener.wait_for(1)
    assert received.path == "/v1/logs" and received.headers["x-team"] == "echo"
    assert received.headers["content-type"] == "application/x-protobuf"
    assert received.headers["user-agent"] == USER_AGENT
    assert received.body == encode_logs(batch).SerializeToString()
    message = ExportLogsServiceRequest.FromString(received.body)
    records = message.resource_logs[0].scope_logs[0].log_records
    assert [record.body.string_value for record in records] == [
        f"GET /anything/{n} 200 1.2ms" for n in range(5)
    ]
    assert {kv.key for kv in records[0].attributes} >= set(
        otlplogs.attributes_of({"httpRequest": {"status": 200}}, None)
    )


def test_a_batch_the_sdk_could_not_encode_either_fails_unsent() -> None:
    listener = Listener()
    settings = _settings(listener)
    exporter = otlpexporters.log_exporter(settings.otlp_logs_protocol, settings.otlp_http["logs"])
    batch = [ReadableLogRecord(LogRecord(body=object()), Resource.create({}))]
    try:
        assert exporter.export(batch) is LogRecordExportResult.FAILURE
    finally:
        exporter.shutdown()
    listener.assert_untouched()


@pytest.mark.parametrize(
    ("setting", "signals"),
    [
        ({"OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER": "gcp_http_credentials"}, "both"),
        ({"OTEL_PYTHON_EXPORTER_OTLP_HTTP_LOGS_CREDENTIAL_PROVIDER": "x"}, "logs"),
        ({"OTEL_PYTHON_EXPORTER_OTLP_HTTP_METRICS_CREDENTIAL_PROVIDER": "x"}, "metrics"),
        ({"OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED": "true"}, "both"),
        ({"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "delta"}, "metrics"),
        ({"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "LowMemory"}, "metrics"),
        (
            {
                "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": (
                    "base2_exponential_bucket_histogram"
                )
            },
            "metrics",
        ),
        ({"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": " CUMULATIVE "}, "none"),
        ({"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": ""}, "none"),
    ],
)
def test_what_only_the_sdks_exporters_do_keeps_them(setting: dict[str, str], signals: str) -> None:
    listener = Listener()
    settings = _settings(listener, **setting)
    http = settings.otlp_http
    metrics = otlpexporters.metric_exporter("http/protobuf", http["metrics"])
    logs = otlpexporters.log_exporter("http/protobuf", http["logs"])
    try:
        sdk_metrics = not isinstance(metrics, PostedMetricExporter)
        sdk_logs = not isinstance(logs, PostedLogExporter)
        assert (sdk_metrics, sdk_logs) == (
            signals in ("both", "metrics"),
            signals in ("both", "logs"),
        )
        if sdk_metrics:
            assert type(metrics).__module__.endswith("proto.http.metric_exporter")
    finally:
        metrics.shutdown()
        logs.shutdown()
