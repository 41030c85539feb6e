"""Metrics and logs over OTLP, in process: the SDK's in-memory reader and exporter see them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource

from service.exchange import routing
from service.exchange.outcome import Outcome
from service.server import logconfig
from service.settings import Settings
from service.telemetry import otlpexporters, otlplogs, otlpmetrics
from tests.support.constants import TRACE_ID, TRACEPARENT
from tests.unit.conftest import Echo, build

BOTH = {"OTEL_METRICS_EXPORTER": "prometheus,otlp", "OTEL_LOGS_EXPORTER": "otlp"}
DURATION = "http.server.request.duration"


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> InMemoryMetricReader:
    """The app's MeterProvider reads into memory, its log records stay in memory: no network."""
    reader = InMemoryMetricReader()

    def in_memory(settings: Settings, resource: Resource) -> MeterProvider:
        return MeterProvider(metric_readers=[reader], resource=resource)

    monkeypatch.setattr(otlpmetrics, "create_provider", in_memory)
    monkeypatch.setattr(
        otlpexporters, "log_exporter", lambda protocol, destination: InMemoryLogRecordExporter()
    )
    return reader


@pytest.fixture
def otlp(reader: InMemoryMetricReader) -> Iterator[tuple[Echo, InMemoryLogRecordExporter]]:
    echo = build(BOTH)
    exporter = InMemoryLogRecordExporter()
    echo.app.extensions["echoscope.logger_provider"].add_log_record_processor(
        SimpleLogRecordProcessor(exporter)
    )
    yield echo, exporter
    otlplogs.emitter.use(None)


def _points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    assert data is not None
    return [
        point
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def _exchange_records(exporter: InMemoryLogRecordExporter) -> list[ReadableLogRecord]:
    return [
        record
        for record in exporter.get_finished_logs()
        if "http.response.status_code" in (record.log_record.attributes or {})
    ]


def test_the_histogram_has_the_buckets_and_attributes_of_metrics(
    otlp: tuple[Echo, InMemoryLogRecordExporter], reader: InMemoryMetricReader
) -> None:
    echo, _ = otlp
    echo.client.get("/status/201", headers={"traceparent": TRACEPARENT})
    (point,) = _points(reader, DURATION)
    assert list(point.explicit_bounds) == [float(b) for b in otlpmetrics.DURATION_BUCKETS]
    assert dict(point.attributes) == {
        "http.request.method": "GET",
        "http.route": "/status/<code>",
        "http.response.status_code": 201,
        "url.scheme": "http",
        "network.protocol.version": "1.1",
    }
    (exemplar,) = point.exemplars
    assert format(exemplar.trace_id, "032x") == TRACE_ID
    span = echo.span()
    assert exemplar.span_id == span.context.span_id
    prometheus = echo.registry.get_sample_value(
        "http_server_request_duration_seconds_sum",
        {
            "http_request_method": "GET",
            "http_route": "/status/<code>",
            "http_response_status_code": "201",
            "url_scheme": "http",
            "error_type": "",
            "network_protocol_version": "1.1",
        },
    )
    assert point.sum == prometheus  # one measurement, both exporters


def test_sizes_active_requests_and_process_metrics_are_pushed(
    otlp: tuple[Echo, InMemoryLogRecordExporter], reader: InMemoryMetricReader
) -> None:
    echo, _ = otlp
    echo.client.post("/anything", data=b"x" * 300)
    (request_size,) = _points(reader, "http.server.request.body.size")
    assert request_size.sum == 300
    assert list(request_size.explicit_bounds) == [float(b) for b in otlpmetrics.SIZE_BUCKETS]
    active = _points(reader, "http.server.active_requests")
    assert {dict(p.attributes)["url.scheme"] for p in active} == {"http"}
    assert all(point.value == 0 for point in active)
    (cpu_user, cpu_system) = _points(reader, "process.cpu.time")
    assert cpu_user.value + cpu_system.value > 0
    assert _points(reader, "process.memory.usage")[0].value > 0


def test_an_unmatched_exchange_has_no_route_and_is_named_by_its_method() -> None:
    assert routing.UNMATCHED == ""
    assert routing.span_name("GET", routing.UNMATCHED) == "GET"
    assert routing.span_name(routing.OTHER_METHOD, routing.UNMATCHED) == "HTTP"
    assert routing.span_name(routing.OTHER_METHOD, "/x") == "HTTP /x"


@pytest.mark.parametrize(
    ("protocol", "version"),
    [("HTTP/1.1", "1.1"), ("HTTP/1.0", "1.0"), ("HTTP/2", "2"), ("HTTP/9", ""), (None, "")],
)
def test_the_protocol_version_label_is_bounded(protocol: str | None, version: str) -> None:
    assert _outcome(protocol=protocol).protocol_version == version


def test_error_type_is_the_exception_else_the_5xx_status_else_nothing() -> None:
    assert _outcome(status=500, error_type="KeyError").semconv_error_type == "KeyError"
    assert _outcome(status=503).semconv_error_type == "503"
    assert _outcome(status=404).semconv_error_type == ""


def _outcome(**fields: Any) -> Outcome:
    base: dict[str, Any] = {
        "request_id": "0" * 32,
        "record": {},
        "method": "GET",
        "route": "/",
        "status": 200,
        "elapsed": 0.001,
        "request_size": 0,
        "response_size": 0,
        "response_headers": {},
        "response_body": b"",
        "body_is_record": False,
        "trace": None,
        "protocol": "HTTP/1.1",
        "error_type": "",
        "excluded": False,
    }
    return Outcome(**{**base, **fields})


def test_each_exchange_line_is_one_log_record_with_its_span(
    otlp: tuple[Echo, InMemoryLogRecordExporter],
) -> None:
    echo, exporter = otlp
    echo.client.get("/anything/x?token=sekret", headers={"traceparent": TRACEPARENT})
    (readable,) = _exchange_records(exporter)
    record, line = readable.log_record, echo.exchange_line()
    span = echo.span()
    assert (record.trace_id, record.span_id) == (span.context.trace_id, span.context.span_id)
    assert int(record.trace_flags) & 1
    assert record.body == line["message"]
    assert (record.severity_text, record.severity_number.value) == ("INFO", 9)
    attributes = dict(record.attributes or {})
    assert attributes["url.full"] == "http://localhost/anything/x?token=[REDACTED]"
    assert attributes["http.route"] == "/anything/<path:path>"
    assert attributes["echoscope.uuid"] == line["uuid"]
    assert json.loads(str(attributes["echoscope.request"])) == line["request"]
    assert "sekret" not in repr(attributes)
    assert (
        readable.resource.attributes["service.instance.id"] == line["request"]["server"]["instance"]
    )


def test_an_unknown_method_keeps_the_original(
    otlp: tuple[Echo, InMemoryLogRecordExporter],
) -> None:
    echo, exporter = otlp
    echo.client.open("/anything", method="BREW")
    attributes = dict(_exchange_records(exporter)[0].log_record.attributes or {})
    assert attributes["http.request.method"] == "_OTHER"
    assert attributes["http.request.method_original"] == "BREW"


def test_stdout_is_the_same_with_and_without_otlp_logs(reader: InMemoryMetricReader) -> None:
    plain, both = build(), build(BOTH)
    try:
        for echo in (plain, both):
            echo.client.get("/anything/same", headers={"traceparent": TRACEPARENT})
        keys = [set(echo.exchange_line()) for echo in (plain, both)]
        assert keys[0] == keys[1] and otlplogs.EXCHANGE not in keys[1]
    finally:
        otlplogs.emitter.use(None)


def test_stdout_lines_carry_trace_id_span_id_and_flags(echo: Echo) -> None:
    echo.client.get("/anything", headers={"traceparent": TRACEPARENT})
    line = echo.exchange_line()
    assert (line["trace_id"], line["span_id"]) == (
        TRACE_ID,
        echo.span().context.span_id.to_bytes(8).hex(),
    )
    assert line["trace_flags"] in ("01", "03")


def test_stdlib_lines_become_records_but_never_opentelemetry_s_own(
    otlp: tuple[Echo, InMemoryLogRecordExporter],
) -> None:
    _, exporter = otlp
    formatter = logconfig.stdlib_formatter("json", (), otlp=True)
    for name in ("gunicorn.error", "opentelemetry.exporter.otlp"):
        record = logging.LogRecord(name, logging.WARNING, __file__, 1, "hello %s", ("x",), None)
        formatter.format(record)
    (readable,) = exporter.get_finished_logs()
    assert readable.instrumentation_scope is not None
    assert readable.instrumentation_scope.name == "gunicorn.error"
    assert readable.log_record.body == "hello x"
    assert readable.log_record.severity_text == "WARNING"


def test_the_exception_line_carries_the_exception_attributes() -> None:
    event = {
        "message": "unhandled exception",
        "severity": "ERROR",
        "error_type": "RuntimeError",
        "stack_trace": "Traceback (most recent call last):\n  ...\nRuntimeError: boom\n",
    }
    attributes = otlplogs.attributes_of(event, None)
    assert attributes["error.type"] == attributes["exception.type"] == "RuntimeError"
    assert attributes["exception.message"] == "boom"
    assert attributes["exception.stacktrace"].startswith("Traceback")
    assert not any(key.startswith("echoscope.") for key in attributes)


def test_off_nothing_is_attached(echo: Echo) -> None:
    assert "echoscope.meter_provider" not in echo.app.extensions
    assert "echoscope.logger_provider" not in echo.app.extensions
