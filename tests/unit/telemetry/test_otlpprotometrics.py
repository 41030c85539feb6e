"""OTLP protobuf metrics (service.telemetry.otlpprotometrics): the very bytes the SDK's encoder writes."""

from __future__ import annotations

import enum
import math
from http import HTTPStatus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk.metrics import Exemplar, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Buckets,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from service.telemetry.otlpprotometrics import MetricEncoder
from tests.support.apart import assert_same_encodings
from tests.unit.telemetry.test_otlpproto import ATTRIBUTES, INT64, RESOURCES, TEXT

UINT64 = st.integers(0, 2**64 - 1)
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([-0.0, 0.0, math.nan])
NUMBERS = INT64 | FLOATS | st.sampled_from([0, -1, 2**63 - 1, -(2**63)])
TEMPORALITIES = st.sampled_from(AggregationTemporality)
SCOPES = [  # ScopeMetrics always has a scope
    InstrumentationScope("probe"),
    InstrumentationScope("probe", "1.2.3", "https://schema/s", {"scope.attr": True}),
    InstrumentationScope("näme", None, None, {"k": ("x", 1)}),
    InstrumentationScope("echoscope", "0.1.0", "https://opentelemetry.io/schemas/1.26.0"),
]


@st.composite
def exemplars(draw: st.DrawFn) -> Exemplar:
    both = draw(st.booleans())
    return Exemplar(
        draw(ATTRIBUTES),
        draw(INT64 | FLOATS),
        draw(UINT64),
        draw(UINT64) if both else draw(st.none() | UINT64),
        draw(st.integers(0, 2**128 - 1)) if both else None,
    )


EXEMPLARS = st.lists(exemplars(), max_size=3)


@st.composite
def number_points(draw: st.DrawFn) -> NumberDataPoint:
    return NumberDataPoint(
        draw(ATTRIBUTES), draw(UINT64), draw(UINT64), draw(NUMBERS), draw(EXEMPLARS)
    )


@st.composite
def histogram_points(draw: st.DrawFn) -> HistogramDataPoint:
    bounds = draw(st.lists(FLOATS, max_size=5))
    return HistogramDataPoint(
        draw(ATTRIBUTES),
        draw(UINT64),
        draw(UINT64),
        draw(UINT64),
        draw(INT64 | FLOATS),
        draw(st.lists(UINT64, min_size=len(bounds) + 1, max_size=len(bounds) + 1) | st.just([])),
        bounds,
        draw(FLOATS),
        draw(FLOATS),
        draw(EXEMPLARS),
    )


BUCKETS = st.builds(Buckets, st.integers(-(2**31), 2**31 - 1), st.lists(UINT64, max_size=4))


@st.composite
def exponential_points(draw: st.DrawFn) -> ExponentialHistogramDataPoint:
    return ExponentialHistogramDataPoint(
        draw(ATTRIBUTES),
        draw(UINT64),
        draw(UINT64),
        draw(UINT64),
        draw(INT64 | FLOATS),
        draw(st.integers(-(2**31), 2**31 - 1) | st.integers(-10, 20)),
        draw(UINT64),
        draw(BUCKETS),
        draw(BUCKETS),
        draw(st.integers(0, 2**32 - 1) | st.just(0)),
        draw(FLOATS),
        draw(FLOATS),
        draw(EXEMPLARS),
    )


def _points(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[list[object]]:
    return st.lists(strategy, max_size=3)


DATA = (
    st.builds(Gauge, _points(number_points()))
    | st.builds(Sum, _points(number_points()), TEMPORALITIES, st.booleans())
    | st.builds(Histogram, _points(histogram_points()), TEMPORALITIES)
    | st.builds(ExponentialHistogram, _points(exponential_points()), TEMPORALITIES)
)
METRICS = st.builds(Metric, TEXT, st.none() | TEXT, st.none() | TEXT, DATA)


@st.composite
def metrics_data(draw: st.DrawFn) -> MetricsData:
    """Distinct resources, distinct scopes in each: the SDK's reader never repeats one (its
    encoder would merge equal ones in a dict)."""
    resources = draw(st.lists(st.sampled_from(RESOURCES), max_size=3, unique_by=id))
    return MetricsData(
        [
            ResourceMetrics(
                resource,
                [
                    ScopeMetrics(scope, draw(st.lists(METRICS, max_size=4)), scope.schema_url or "")
                    for scope in draw(st.lists(st.sampled_from(SCOPES), max_size=3, unique=True))
                ],
                resource.schema_url,
            )
            for resource in resources
        ]
    )


def _parsed(encoded: bytes) -> ExportMetricsServiceRequest:
    return ExportMetricsServiceRequest.FromString(encoded)


@settings(max_examples=200, deadline=None)
@given(metrics_data())
def test_any_metrics_are_the_sdk_encoders_bytes(data: MetricsData) -> None:
    encoded = MetricEncoder().encode(data)
    expected = encode_metrics(data)
    assert _parsed(encoded) == expected  # upb compares doubles bitwise: nan, -0.0 included
    assert encoded == expected.SerializeToString()


@settings(max_examples=50, deadline=None)
@given(metrics_data())
def test_metrics_encoded_again_from_the_cache_are_the_same(data: MetricsData) -> None:
    encoder = MetricEncoder()
    assert encoder.encode(data) == encoder.encode(data) == MetricEncoder().encode(data)


def _collected(exponential: bool = False) -> MetricsData:
    """What a MeterProvider collects from instruments shaped like echoscope's own."""
    reader = InMemoryMetricReader()
    views = [View(instrument_name="*.size", aggregation=ExponentialBucketHistogramAggregation())]
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create({"service.name": "probe"}, "https://schema/r"),
        views=views if exponential else (),
    )
    meter = provider.get_meter("echoscope", "0.1.0", "https://schema/m", {"m": 1})
    duration = meter.create_histogram("d", unit="s", explicit_bucket_boundaries_advisory=[0.1, 1])
    size = meter.create_histogram("body.size", unit="By")
    counter = meter.create_counter("requests", description="Requests.")
    active = meter.create_up_down_counter("active")
    gauge = meter.create_gauge("temperature")
    with TracerProvider().get_tracer("probe").start_as_current_span("sampled"):
        for n in range(20):
            attributes = {"http.route": "/x", "http.response.status_code": 200 + n % 3}
            duration.record(n / 10, attributes)
            size.record(n * 1000, attributes)
            counter.add(1, attributes)
            active.add(-1 if n % 2 else 2, {"url.scheme": "http"})
            gauge.set(n * 0.5)
    data = reader.get_metrics_data()
    assert data is not None
    return data


@pytest.mark.parametrize("exponential", [False, True])
def test_what_the_sdk_collects_is_the_sdk_encoders_bytes(exponential: bool) -> None:
    data = _collected(exponential)
    encoded = MetricEncoder().encode(data)
    assert encoded == encode_metrics(data).SerializeToString()
    kinds = {
        m.WhichOneof("data") for m in _parsed(encoded).resource_metrics[0].scope_metrics[0].metrics
    }
    assert kinds == {"histogram", "sum", "gauge"} | (
        {"exponential_histogram"} if exponential else set()
    )
    exemplar = next(
        m.histogram.data_points[0].exemplars[0]
        for m in _parsed(encoded).resource_metrics[0].scope_metrics[0].metrics
        if m.name == "d"
    )
    assert len(exemplar.trace_id) == 16 and len(exemplar.span_id) == 8


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, True])
def test_an_int_protobuf_refuses_fails_as_the_sdk_encoder_fails(value: int) -> None:
    point = NumberDataPoint({}, 1, 2, value)
    data = MetricsData(
        [
            ResourceMetrics(
                RESOURCES[0],
                [ScopeMetrics(SCOPES[0], [Metric("big", None, None, Gauge([point]))], "")],
                "",
            )
        ]
    )
    with pytest.raises((TypeError, ValueError)):
        MetricEncoder().encode(data)
    with pytest.raises(Exception):  # noqa: B017 - the SDK's EncodingException (private)
        encode_metrics(data)


def test_int_and_str_subclasses_are_encoded_as_the_sdk_encodes_them() -> None:
    """IntEnum values and attributes (a status, a close code): encoded at once, in a process
    of their own with a deadline (a `range` membership test would never end)."""
    assert_same_encodings("tests.unit.telemetry.test_otlpprotometrics", "_enum_encodings")


def _enum_encodings() -> tuple[bytes, bytes]:
    attributes = {"status": HTTPStatus.OK, "code": Flag.ON, "kind": Name.ECHO}
    exemplar = Exemplar(attributes, Flag.ON, 5, 1, 2)
    points = [
        NumberDataPoint(attributes, 1, 2, value, [exemplar]) for value in (Flag.ON, HTTPStatus.OK)
    ]
    metric = Metric("enums", None, None, Sum(points, AggregationTemporality.CUMULATIVE, True))
    scope = ScopeMetrics(SCOPES[0], [metric], "")
    data = MetricsData([ResourceMetrics(RESOURCES[0], [scope], "")])
    return MetricEncoder().encode(data), encode_metrics(data).SerializeToString()


class Flag(enum.IntEnum):
    ON = 1001


class Name(enum.StrEnum):
    ECHO = "echo"
