"""OTLP protobuf log records (service.telemetry.otlpprotologs): the very bytes the SDK's encoder writes."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import TraceFlags

from service.telemetry import otlplogs
from service.telemetry.otlpprotologs import LogEncoder
from tests.support.apart import assert_same_encodings
from tests.unit.telemetry.test_otlpproto import (
    ATTRIBUTES,
    RESOURCES,
    SCOPES,
    TEXT,
    VALUES,
    Flag,
    Name,
    _bounded,
)

UINT64 = st.integers(0, 2**64 - 1)


@st.composite
def records(draw: st.DrawFn) -> ReadableLogRecord:
    """Any record: every AnyValue body, ids or none, severities, dropped attributes."""
    attributes = draw(st.none() | ATTRIBUTES)
    dropped = draw(st.sampled_from([0, 0, 1, 3]))
    record = LogRecord(
        timestamp=draw(st.none() | UINT64),
        observed_timestamp=draw(UINT64),
        trace_id=draw(st.just(0) | st.integers(1, 2**128 - 1)),
        span_id=draw(st.just(0) | st.integers(1, 2**64 - 1)),
        trace_flags=TraceFlags(draw(st.sampled_from([0, 1, 0xFF]))),
        severity_text=draw(st.none() | TEXT),
        severity_number=draw(st.none() | st.sampled_from(SeverityNumber)),
        body=draw(VALUES),
        attributes=_bounded(attributes, dropped) if attributes is not None else None,
        event_name=draw(st.none() | TEXT),
    )
    return ReadableLogRecord(
        record, draw(st.sampled_from(RESOURCES)), draw(st.sampled_from(SCOPES))
    )


def _parsed(encoded: bytes) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest.FromString(encoded)


@settings(max_examples=200, deadline=None)
@given(st.lists(records(), max_size=6))
def test_any_batch_is_the_sdk_encoders_bytes(batch: list[ReadableLogRecord]) -> None:
    encoded = LogEncoder().encode(batch)
    expected = encode_logs(batch)
    assert _parsed(encoded) == expected  # upb compares doubles bitwise: nan, -0.0 included
    assert encoded == expected.SerializeToString()


@settings(max_examples=50, deadline=None)
@given(st.lists(records(), min_size=1, max_size=4))
def test_a_batch_encoded_again_from_the_cache_is_the_same(batch: list[ReadableLogRecord]) -> None:
    encoder = LogEncoder(limit=4)
    assert encoder.encode(batch) == encoder.encode(batch) == LogEncoder().encode(batch)
    assert len(encoder) <= 4


def exchange_records(count: int) -> list[ReadableLogRecord]:
    """Records as echoscope emits them for its exchange lines (otlplogs' attributes)."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "probe"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("echoscope", "0.1.0")
    tracer = TracerProvider().get_tracer("probe")
    for n in range(count):
        event = {
            "severity": "INFO",
            "message": f"GET /anything/{n} 200 1.2ms",
            "httpRequest": {
                "requestMethod": "GET",
                "requestUrl": f"http://127.0.0.1:8080/anything/{n}?x=1",
                "status": 200,
                "userAgent": "python-requests/2.32",
                "remoteIp": "127.0.0.1",
                "requestSize": "0",
                "responseSize": "412",
                "latency": "0.0012s",
                "protocol": "HTTP/1.1",
            },
            "uuid": f"0b9c-{n}",
        }
        exchange = {
            "method": "GET",
            "route": "/anything/<path:path>",
            "error_type": None,
            "protocol_version": "1.1",
            "request": b'{"method":"GET","args":{"x":"1"},"headers":{"Host":"127.0.0.1"}}',
        }
        with tracer.start_as_current_span("GET /anything"):
            logger.emit(
                severity_number=SeverityNumber.INFO,
                severity_text="INFO",
                body=event["message"],
                attributes=otlplogs.attributes_of(event, exchange),
            )
    return list(exporter.get_finished_logs())


def test_echoscopes_exchange_records_are_the_sdk_encoders_bytes() -> None:
    batch = exchange_records(8)
    encoded = LogEncoder().encode(batch)
    assert encoded == encode_logs(batch).SerializeToString()
    record = _parsed(encoded).resource_logs[0].scope_logs[0].log_records[0]
    assert len(record.trace_id) == 16 and len(record.span_id) == 8 and record.flags & 1
    assert record.body.string_value == "GET /anything/0 200 1.2ms"


@pytest.mark.parametrize("body", [object(), 2**64, [1, 2**70]])
def test_a_body_no_anyvalue_holds_fails_as_the_sdk_encoder_fails(body: object) -> None:
    batch = [ReadableLogRecord(LogRecord(body=body), RESOURCES[0])]
    with pytest.raises((TypeError, ValueError)):
        LogEncoder().encode(batch)
    with pytest.raises(Exception):  # noqa: B017 - the SDK raises a bare Exception, or ValueError
        encode_logs(batch)


def test_int_and_str_subclasses_are_encoded_as_the_sdk_encodes_them() -> None:
    """IntEnum/StrEnum bodies and attributes, in a process of their own with a deadline."""
    assert_same_encodings("tests.unit.telemetry.test_otlpprotologs", "_enum_encodings")


def _enum_encodings() -> tuple[bytes, bytes]:
    attributes = {"status": HTTPStatus.OK, "code": Flag.ON, "kind": Name.ECHO}
    batch = [
        ReadableLogRecord(LogRecord(body=body, attributes=attributes), RESOURCES[0])
        for body in (Flag.ON, HTTPStatus.NOT_FOUND, Name.ECHO, [Flag.ON], {"k": Flag.ON})
    ]
    return LogEncoder().encode(batch), encode_logs(batch).SerializeToString()


def test_bounded_attributes_count_what_they_dropped() -> None:
    attributes = BoundedAttributes(maxlen=1, attributes={"a": 1, "b": 2, "c": 3})
    batch = [ReadableLogRecord(LogRecord(body="x", attributes=attributes), RESOURCES[1])]
    encoded = LogEncoder().encode(batch)
    assert _parsed(encoded).resource_logs[0].scope_logs[0].log_records[0].dropped_attributes_count
    assert encoded == encode_logs(batch).SerializeToString()
