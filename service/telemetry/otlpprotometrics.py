"""OTLP protobuf for metrics (`http/protobuf`, the default protocol), written directly.

The ExportMetricsServiceRequest in protobuf wire format, written straight from
the reader's MetricsData with otlpwire's fields and values: byte for byte what
the SDK's encoder (encode_metrics) serializes, without building its message
objects; field numbers and wire types are opentelemetry-proto's. Every point
type the SDK's encoder writes: Gauge, Sum, Histogram, ExponentialHistogram.
otlpposted's exporter posts it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics import Exemplar
from opentelemetry.sdk.metrics.export import (
    Buckets,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ScopeMetrics,
    Sum,
)

from service.telemetry import otlpwire
from service.telemetry.otlpwire import (
    PAIRS_LIMIT,
    Pair,
    Pairs,
    attributes,
    count,
    double,
    field,
    fixed64,
    int64,
    text,
    zigzag,
)

_MONOTONIC = b"\x18\x01"  # Sum.is_monotonic


class MetricEncoder:
    """Writes ExportMetricsServiceRequests, remembering the bytes of recent attribute pairs."""

    def __init__(self, limit: int = PAIRS_LIMIT) -> None:
        self._pairs = Pairs(limit)

    def encode(self, metrics_data: MetricsData) -> bytes:
        """An ExportMetricsServiceRequest: one ResourceMetrics per resource, as collected."""
        pair = self._pairs.pair
        return b"".join(
            otlpwire.resource_group(
                each.resource, (_scope_metrics(scope, pair) for scope in each.scope_metrics), pair
            )
            for each in metrics_data.resource_metrics
        )


def _scope_metrics(scope_metrics: ScopeMetrics, pair: Pair) -> bytes:
    metrics = (field(b"\x12", _metric(metric, pair)) for metric in scope_metrics.metrics)
    return otlpwire.scope_group(scope_metrics.scope, metrics, pair)


def _metric(metric: Metric, pair: Pair) -> bytes:
    """Metric: name, description, unit, then its data (absent without data points)."""
    head = (
        text(b"\x0a", metric.name) + text(b"\x12", metric.description) + text(b"\x1a", metric.unit)
    )
    return head + _data(metric.data, pair)


def _data(data: Any, pair: Pair) -> bytes:
    if not data.data_points:
        return b""  # the SDK's encoder touches the data field only for a point
    if isinstance(data, Gauge):
        return field(b"\x2a", _points(data.data_points, _gauge_point, pair))
    if isinstance(data, Histogram):
        points = _points(data.data_points, _histogram_point, pair)
        return field(b"\x4a", points + count(b"\x10", data.aggregation_temporality))
    if isinstance(data, Sum):
        points = _points(data.data_points, _sum_point, pair)
        monotonic = _MONOTONIC if data.is_monotonic else b""
        return field(b"\x3a", points + count(b"\x10", data.aggregation_temporality) + monotonic)
    if isinstance(data, ExponentialHistogram):
        points = _points(data.data_points, _exponential_point, pair)
        return field(b"\x52", points + count(b"\x10", data.aggregation_temporality))
    return b""  # a type the SDK's encoder does not know either: the metric without data


def _points(points: Sequence[Any], encode: Any, pair: Pair) -> bytes:
    """The repeated data_points field (1) of Gauge, Sum, Histogram, ExponentialHistogram."""
    return b"".join(field(b"\x0a", encode(point, pair)) for point in points)


def _gauge_point(point: NumberDataPoint, pair: Pair) -> bytes:
    return _number_point(point, pair, b"")


def _sum_point(point: NumberDataPoint, pair: Pair) -> bytes:
    return _number_point(point, pair, fixed64(0x11, point.start_time_unix_nano))


def _number_point(point: NumberDataPoint, pair: Pair, start: bytes) -> bytes:
    """NumberDataPoint: as_double (4) before the exemplars (5), as_int (6) after them."""
    value = point.value
    is_int = isinstance(value, int)
    return b"".join(
        (
            start,
            fixed64(0x19, point.time_unix_nano),
            b"" if is_int else double(0x21, value),
            _exemplars(b"\x2a", point.exemplars, pair),
            int64(0x31, value) if is_int else b"",  # type: ignore[arg-type]
            attributes(b"\x3a", point.attributes, pair),
        )
    )


def _histogram_point(point: HistogramDataPoint, pair: Pair) -> bytes:
    bucket_counts, bounds = point.bucket_counts, point.explicit_bounds
    return b"".join(
        (
            fixed64(0x11, point.start_time_unix_nano),
            fixed64(0x19, point.time_unix_nano),
            fixed64(0x21, point.count),
            double(0x29, point.sum),
            field(b"\x32", struct.pack(f"<{len(bucket_counts)}Q", *bucket_counts))
            if bucket_counts
            else b"",
            field(b"\x3a", struct.pack(f"<{len(bounds)}d", *bounds)) if bounds else b"",
            _exemplars(b"\x42", point.exemplars, pair),
            attributes(b"\x4a", point.attributes, pair),
            double(0x59, point.min),
            double(0x61, point.max),
        )
    )


def _exponential_point(point: ExponentialHistogramDataPoint, pair: Pair) -> bytes:
    return b"".join(
        (
            attributes(b"\x0a", point.attributes, pair),
            fixed64(0x11, point.start_time_unix_nano),
            fixed64(0x19, point.time_unix_nano),
            fixed64(0x21, point.count),
            double(0x29, point.sum),
            zigzag(b"\x30", point.scale),
            fixed64(0x39, point.zero_count),
            _buckets(b"\x42", point.positive),
            _buckets(b"\x4a", point.negative),
            count(b"\x50", point.flags),
            _exemplars(b"\x5a", point.exemplars, pair),
            double(0x61, point.min),
            double(0x69, point.max),
        )
    )


def _buckets(tag: bytes, buckets: Buckets) -> bytes:
    """Buckets: offset (sint32), packed varint counts; absent without counts, as the SDK's."""
    counts = buckets.bucket_counts
    if not counts:
        return b""
    packed = b"".join(otlpwire.varint(n) for n in counts)
    return field(tag, zigzag(b"\x08", buckets.offset) + field(b"\x12", packed))


def _exemplars(tag: bytes, exemplars: Sequence[Exemplar], pair: Pair) -> bytes:
    return b"".join(field(tag, _exemplar(exemplar, pair)) for exemplar in exemplars)


def _exemplar(exemplar: Exemplar, pair: Pair) -> bytes:
    """Exemplar: as_double (3) before the ids (4, 5), as_int (6) after them."""
    value = exemplar.value
    if isinstance(value, float):
        as_double, as_int = double(0x19, value), b""
    elif isinstance(value, int):
        as_double, as_int = b"", int64(0x31, value)
    else:
        raise ValueError("Exemplar value must be an int or float")
    span_id, trace_id = exemplar.span_id, exemplar.trace_id
    ids = b""
    if span_id is not None and trace_id is not None:
        ids = b"\x22\x08" + span_id.to_bytes(8, "big") + b"\x2a\x10" + trace_id.to_bytes(16, "big")
    return b"".join(
        (
            fixed64(0x11, exemplar.time_unix_nano),
            as_double,
            ids,
            as_int,
            attributes(b"\x3a", exemplar.filtered_attributes, pair),
        )
    )
