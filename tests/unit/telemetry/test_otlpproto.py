"""OTLP protobuf (service.telemetry.otlpproto): parsed, it is exactly the message the SDK's encoder builds."""

from __future__ import annotations

import enum
import gzip
import math
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from service.settings import Settings
from service.settings.otlp import OtlpHttp
from service.telemetry import otlpexporters, tracing
from service.telemetry.otlpproto import OTLPProtobufSpanExporter, SpanEncoder
from tests.support.apart import assert_same_encodings
from tests.support.listener import Listener, Received, send

INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # empty and non-ASCII included
SCALARS = (
    st.none()
    | st.booleans()
    | TEXT
    | INT64
    | st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**31, 127, 128])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.binary(max_size=12)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
ATTRIBUTES = st.dictionaries(TEXT, VALUES, max_size=6)
TRACE_STATES = st.lists(
    st.tuples(st.from_regex(r"\A[a-z][a-z0-9_\-*/]{0,8}\Z"), st.from_regex(r"\A[a-z0-9]{1,8}\Z")),
    max_size=3,
    unique_by=lambda pair: pair[0],
)
RESOURCES = [
    Resource.create({"service.name": "one", "n": 1}),
    Resource({"service.name": "two", "ratio": 0.5, "tags": ("a", "b")}, "https://schema/r"),
    Resource({}),
]
SCOPES = [
    None,
    InstrumentationScope("probe"),
    InstrumentationScope("probe", "1.2.3", "https://schema/s", {"scope.attr": True}),
    InstrumentationScope("näme", None, None, {"k": ("x", 1)}),
]


def _bounded(attributes: dict[str, Any], drop: int) -> BoundedAttributes | dict[str, Any]:
    """The attributes, plus `drop` more the limit leaves out (counted as dropped)."""
    if not drop:
        return attributes
    bounded = BoundedAttributes(maxlen=len(attributes), immutable=False)
    for index, (key, value) in enumerate(
        [*attributes.items(), *((f"x{n}", n) for n in range(drop))]
    ):
        bounded[key if index < len(attributes) else f"{key}\0"] = value
    return bounded


@st.composite
def contexts(draw: st.DrawFn) -> SpanContext:
    return SpanContext(
        draw(st.integers(1, 2**128 - 1)),
        draw(st.integers(1, 2**64 - 1)),
        is_remote=draw(st.booleans()),
        trace_flags=TraceFlags(draw(st.sampled_from([0, 1]))),
        trace_state=TraceState(draw(TRACE_STATES)),
    )


@st.composite
def events(draw: st.DrawFn) -> Event:
    attributes = draw(ATTRIBUTES)
    bounded = _bounded(attributes, draw(st.integers(0, 2)))
    return Event(draw(TEXT), bounded, draw(st.integers(0, 2**64 - 1)))


@st.composite
def links(draw: st.DrawFn) -> Link:
    attributes = draw(ATTRIBUTES)
    return Link(draw(contexts()), _bounded(attributes, draw(st.integers(0, 2))))


@st.composite
def spans(draw: st.DrawFn) -> ReadableSpan:
    event_list = BoundedList(draw(st.integers(0, 3)))
    for event in draw(st.lists(events(), max_size=4)):
        event_list.append(event)
    link_list = BoundedList(draw(st.integers(0, 3)))
    for link in draw(st.lists(links(), max_size=4)):
        link_list.append(link)
    code = draw(st.sampled_from(StatusCode))
    return ReadableSpan(
        name=draw(TEXT),
        context=draw(contexts()),
        parent=draw(st.none() | contexts()),
        resource=draw(st.sampled_from(RESOURCES)),
        attributes=_bounded(draw(ATTRIBUTES), draw(st.sampled_from([0, 0, 1, 300]))),
        events=event_list,
        links=link_list,
        kind=draw(st.sampled_from(SpanKind)),
        status=Status(code, draw(TEXT) if code is StatusCode.ERROR else None),
        start_time=draw(st.integers(0, 2**64 - 1)),
        end_time=draw(st.integers(0, 2**64 - 1)),
        instrumentation_scope=draw(st.sampled_from(SCOPES)),
    )


def _parsed(encoded: bytes) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(encoded)


@settings(max_examples=150, deadline=None)
@given(st.lists(spans(), max_size=6))
def test_any_batch_parses_to_the_message_the_sdk_encoder_builds(batch: list[ReadableSpan]) -> None:
    encoded = SpanEncoder().encode(batch)
    expected = encode_spans(batch)
    assert _parsed(encoded) == expected  # upb compares doubles bitwise: nan, -0.0 included
    assert encoded == expected.SerializeToString()  # and the very bytes protobuf writes


@settings(max_examples=100, deadline=None)
@given(spans())
def test_a_span_encoded_again_from_the_cache_is_the_same(span: ReadableSpan) -> None:
    encoder = SpanEncoder()
    first = encoder.encode([span])
    assert encoder.encode([span, span]) == _double_span(first)


def _double_span(encoded: bytes) -> bytes:
    message = _parsed(encoded)
    for scope_spans in message.resource_spans[0].scope_spans:
        scope_spans.spans.extend(list(scope_spans.spans))
    return message.SerializeToString()


def test_real_sdk_spans_are_the_sdk_encoders_bytes() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "probe"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("probe.scope", "1.2.3", schema_url="https://schema/1")
    remote = SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0xF067AA0BA902B7, is_remote=True)
    parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
    with tracer.start_as_current_span("GET /anything", parent, SpanKind.SERVER) as server:
        server.set_attributes({"http.request.method": "GET", "big": 2**62, "ratio": math.nan})
        server.add_event("delay", {"seconds": 1.5, "nested": {"a": [1, 2]}})
        server.set_status(Status(StatusCode.ERROR, "boom"))
        with tracer.start_as_current_span("child", links=[Link(remote, {"why": "retry"})]):
            pass
    finished = exporter.get_finished_spans()
    assert SpanEncoder().encode(finished) == encode_spans(finished).SerializeToString()


def _plain(name: str, attributes: dict[str, Any]) -> ReadableSpan:
    """A span of the first resource: the SDK's encoder groups equal resources, echoscope's
    the same resource object (one per provider)."""
    return ReadableSpan(
        name, SpanContext(1, 2, False), resource=RESOURCES[0], attributes=attributes
    )


def test_values_no_anyvalue_holds_are_left_out_as_the_sdk_leaves_them() -> None:
    attributes = {"kept": 1, "huge": 2**64, "deep": [1, 2**70], "object": object(), "last": "x"}
    span = _plain("odd", attributes)
    encoded = SpanEncoder().encode([span])
    assert _parsed(encoded) == encode_spans([span])
    keys = [kv.key for kv in _parsed(encoded).resource_spans[0].scope_spans[0].spans[0].attributes]
    assert keys == ["kept", "last"]


def test_equal_values_of_other_types_are_not_confused_by_the_cache() -> None:
    encoder = SpanEncoder()
    batch = [_plain("s", {"v": value}) for value in (1, True, 1.0, "1", -0.0, 0.0, 0, False)]
    assert _parsed(encoder.encode(batch)) == encode_spans(batch)


def test_the_cache_stays_bounded_with_high_cardinality_values() -> None:
    encoder = SpanEncoder(limit=64)
    for batch in range(20):
        spans_ = [
            _plain("GET", {"url.full": f"http://h/{batch}/{n}", "http.method": "GET"})
            for n in range(50)
        ]
        assert _parsed(encoder.encode(spans_)) == encode_spans(spans_)
        assert len(encoder) <= 64


def _failing_then_ok(failures: int) -> Listener:
    left = [503] * failures  # then 200s

    def answer(_: Listener, __: Received, handler: BaseHTTPRequestHandler) -> None:
        send(handler, left.pop(0) if left else 200, b"", "application/x-protobuf")

    return Listener(answer)


def test_the_default_protocol_posts_echoscopes_protobuf_gzipped_retrying_a_503() -> None:
    listener = _failing_then_ok(1)
    settings = Settings.from_env(
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": listener.url,
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-team=echo",
        }
    )
    exporter = tracing.create_exporter(
        settings.traces_exporter, settings.otlp_traces_protocol, settings.otlp_http["traces"]
    )
    assert isinstance(exporter, OTLPProtobufSpanExporter)
    batch = [_plain("GET /", {"http.request.method": "GET", "n": n}) for n in range(3)]
    try:
        assert exporter.export(batch) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    refused, taken = listener.wait_for(2)
    assert refused.body == taken.body  # the same request again after the 503
    assert taken.path == "/v1/traces" and taken.headers["x-team"] == "echo"
    assert taken.headers["content-type"] == "application/x-protobuf"
    assert taken.headers["content-encoding"] == "gzip"
    assert _parsed(gzip.decompress(taken.body)) == encode_spans(batch)


@pytest.mark.parametrize(
    "setting",
    [
        {"OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER": "gcp_http_credentials"},
        {"OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER": "gcp_http_credentials"},
        {"OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED": "True"},
    ],
)
def test_what_only_the_sdks_exporter_does_keeps_the_sdks_exporter(setting: dict[str, str]) -> None:
    settings = Settings.from_env({"OTEL_TRACES_EXPORTER": "otlp", **setting})
    destination = settings.otlp_http["traces"]
    assert not isinstance(
        otlpexporters.span_exporter("http/protobuf", destination), OTLPProtobufSpanExporter
    )
    assert isinstance(
        otlpexporters.span_exporter("http/protobuf", OtlpHttp()), OTLPProtobufSpanExporter
    )


def test_the_credential_provider_is_read_with_the_sdks_precedence() -> None:
    settings = Settings.from_env(
        {
            "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER": "generic",
            "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER": "own",
            "OTEL_PYTHON_EXPORTER_OTLP_HTTP_LOGS_CREDENTIAL_PROVIDER": "logs",
            "OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED": "1",  # the SDK wants "true"
        }
    )
    traces, metrics = settings.otlp_http["traces"], settings.otlp_http["metrics"]
    assert traces.credential_provider == metrics.credential_provider == "generic"
    assert not traces.exporter_metrics


def test_int_and_str_subclasses_are_encoded_as_the_sdk_encodes_them() -> None:
    """An IntEnum (a WebSocket close code, an HTTPStatus) is an int to the SDK: encoded at
    once. Run apart, with a deadline: a `range` membership test counts through its 2**64
    members in C, holding the GIL, and never ends."""
    assert_same_encodings("tests.unit.telemetry.test_otlpproto", "_enum_batch_encodings")


def _enum_batch_encodings() -> tuple[bytes, bytes]:
    batch = [_plain("enums", {"status": HTTPStatus.OK, "code": Flag.ON, "kind": Name.ECHO})]
    return SpanEncoder().encode(batch), encode_spans(batch).SerializeToString()


class Flag(enum.IntEnum):
    ON = 1001


class Name(enum.StrEnum):
    ECHO = "echo"
