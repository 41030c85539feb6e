"""OTLP JSON (service.telemetry.otlpjson): decoded, it is exactly the message the SDK's protobuf encoder builds."""

from __future__ import annotations

import math

import orjson
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from service.settings import Settings
from service.telemetry import otlpjson, tracing
from tests.support.otlp import decode_json

REMOTE = SpanContext(
    0x4BF92F3577B34DA6A3CE929D0E0E4736,
    0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=TraceFlags(1),
    trace_state=TraceState([("vendor", "v1"), ("other", "x")]),
)


def _spans() -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "probe", "n": 3}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("probe.scope", "1.2.3", schema_url="https://schema/1")
    parent = trace.set_span_in_context(trace.NonRecordingSpan(REMOTE))
    with tracer.start_as_current_span("GET /anything", parent, SpanKind.SERVER) as server:
        server.set_attributes(
            {
                "http.request.method": "GET",
                "http.response.status_code": 200,
                "big": 2**62,
                "negative": -7,
                "ratio": 0.25,
                "ok": True,
                "headers": ("a", "b"),
                "counts": (1, 2),
                "flags": (True, False),
                "ratios": (0.5, 1.5),
                "empty": "",
            }
        )
        server.add_event("delay", {"seconds": 1.5})
        server.set_status(Status(StatusCode.ERROR, "boom"))
        with tracer.start_as_current_span(
            "child", links=[Link(REMOTE, {"why": "retry"})], kind=SpanKind.CLIENT
        ) as child:
            child.set_attribute("infinite", math.inf)
    with provider.get_tracer("other").start_as_current_span("root"):
        pass
    return list(exporter.get_finished_spans())


def test_the_json_decodes_to_exactly_the_protobuf_message() -> None:
    spans = _spans()
    assert decode_json(otlpjson.encode(spans)) == encode_spans(spans)


def test_the_json_follows_the_otlp_mapping() -> None:
    request = orjson.loads(otlpjson.encode(_spans()))
    span = request["resourceSpans"][0]["scopeSpans"][0]["spans"][-1]
    assert span["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"  # hex, not base64
    assert span["parentSpanId"] == "00f067aa0ba902b7"
    assert span["kind"] == 2  # SPAN_KIND_SERVER, as an integer
    assert isinstance(span["startTimeUnixNano"], str)  # 64-bit integers as strings
    values = {kv["key"]: kv["value"] for kv in span["attributes"]}
    assert values["big"] == {"intValue": str(2**62)}
    assert values["headers"] == {
        "arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}
    }
    assert span["status"] == {"code": 2, "message": "boom"}
    assert span["flags"] == 0x300  # has-is-remote and is-remote


@pytest.mark.parametrize(
    ("item", "encoded"),
    [
        (math.nan, {"doubleValue": "NaN"}),
        (-math.inf, {"doubleValue": "-Infinity"}),
        (b"\x00\xff", {"bytesValue": "AP8="}),
        ({"k": 1}, {"kvlistValue": {"values": [{"key": "k", "value": {"intValue": "1"}}]}}),
        (None, {}),
    ],
)
def test_values_outside_span_attributes_keep_the_mapping(item: object, encoded: object) -> None:
    assert otlpjson.value(item) == encoded


def test_http_json_selects_the_json_exporter() -> None:
    settings = Settings.from_env(
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}
    )
    exporter = tracing.create_exporter(
        settings.traces_exporter, settings.otlp_traces_protocol, settings.otlp_http["traces"]
    )
    assert isinstance(exporter, otlpjson.OTLPJsonSpanExporter)
    exporter.shutdown()
