"""OTLP JSON for metrics and log records: decoded, exactly the message the SDK's protobuf encoder builds."""

from __future__ import annotations

import orjson
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from service.settings.otlp import OtlpHttp
from service.telemetry import otlpexporters, otlpjsonsignals
from service.telemetry.otlpposted import PostedLogExporter
from tests.support.otlpdecode import decode

RESOURCE = Resource.create({"service.name": "probe", "n": 3})


def _metrics() -> MetricsData:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader], resource=RESOURCE).get_meter("probe", "1.0")
    histogram = meter.create_histogram("d", unit="s", explicit_bucket_boundaries_advisory=[0.1, 1])
    counter = meter.create_up_down_counter("active")
    tracer = TracerProvider().get_tracer("probe")
    with tracer.start_as_current_span("sampled"):  # an exemplar with trace and span ids
        histogram.record(0.5, {"http.route": "/x", "http.response.status_code": 200})
    counter.add(2, {"url.scheme": "http"})
    data = reader.get_metrics_data()
    assert data is not None
    return data


def _logs() -> list[ReadableLogRecord]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("echoscope", "1.0")
    with TracerProvider().get_tracer("probe").start_as_current_span("inside"):
        logger.emit(
            timestamp=1_700_000_000_000_000_000,
            severity_number=SeverityNumber.WARN,
            severity_text="WARNING",
            body="GET /x 404 1.0ms",
            attributes={
                "http.response.status_code": 404,
                "echoscope.request": {"headers": {"A": "b"}, "args": {"x": ["1", "2"]}},
                "ok": True,
                "ratio": 0.5,
            },
        )
    logger.emit(body="outside a span", severity_text="INFO")
    return list(exporter.get_finished_logs())


def test_metrics_json_decodes_to_the_protobuf_message() -> None:
    data = _metrics()
    decoded = decode("metrics", otlpjsonsignals.encode_metrics_json(data), "application/json")
    assert decoded == encode_metrics(data)


def test_metrics_json_writes_exemplar_ids_in_hex() -> None:
    text = orjson.loads(otlpjsonsignals.encode_metrics_json(_metrics()))
    metrics = text["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    (exemplar,) = next(m for m in metrics if m["name"] == "d")["histogram"]["dataPoints"][0][
        "exemplars"
    ]
    assert len(exemplar["traceId"]) == 32 and int(exemplar["traceId"], 16)
    assert len(exemplar["spanId"]) == 16


def test_logs_json_decodes_to_the_protobuf_message() -> None:
    records = _logs()
    decoded = decode("logs", otlpjsonsignals.encode_logs(records), "application/json")
    assert decoded == encode_logs(records)


def test_logs_json_follows_the_otlp_mapping() -> None:
    records = _logs()
    text = orjson.loads(otlpjsonsignals.encode_logs(records))
    first, second = text["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    span = trace.get_current_span()  # none here: ids come from the records
    assert span.get_span_context().is_valid is False
    assert first["traceId"] == format(records[0].log_record.trace_id, "032x")
    assert first["severityNumber"] == 13 and first["timeUnixNano"] == "1700000000000000000"
    assert "traceId" not in second


def test_each_protocol_has_an_exporter_for_each_signal() -> None:
    where = OtlpHttp()
    for protocol in ("http/protobuf", "http/json", "grpc"):
        assert otlpexporters.span_exporter(protocol, where) is not None
        assert otlpexporters.metric_exporter(protocol, where) is not None
        assert otlpexporters.log_exporter(protocol, where) is not None
    assert isinstance(otlpexporters.log_exporter("http/json", where), PostedLogExporter)
    grpc_metrics = otlpexporters.metric_exporter("grpc", where)
    assert type(grpc_metrics).__module__.endswith("grpc.metric_exporter")
