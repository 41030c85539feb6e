"""The OTLP exporter of each signal, for the protocol its settings name.

`http/protobuf` and `grpc` are the standard exporter packages, which read their
endpoint, headers, timeout, compression, TLS and credential provider from the
standard OTEL_EXPORTER_OTLP_* and OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_*
variables themselves. `http/json` is echoscope's encoding (otlpjson,
otlpjsonsignals) posted by its own sender (otlphttp) to the destination the
settings read from the same variables. Imports are deferred: a protocol
nobody uses costs no import (gRPC's is heavy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.settings.otlp import OtlpHttp

if TYPE_CHECKING:  # the metrics and logs SDKs load only when their signal is on
    from opentelemetry.sdk._logs.export import LogRecordExporter
    from opentelemetry.sdk.metrics.export import MetricExporter
    from opentelemetry.sdk.trace.export import SpanExporter


def span_exporter(protocol: str, destination: OtlpHttp) -> SpanExporter:
    """The OTLP span exporter for `protocol` (http/protobuf, http/json or grpc)."""
    if protocol == "http/json":
        from service.telemetry import otlpjson
        from service.telemetry.otlphttp import OtlpSender

        return otlpjson.OTLPJsonSpanExporter(OtlpSender(destination, otlpjson.CONTENT_TYPE))
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def metric_exporter(protocol: str, destination: OtlpHttp) -> MetricExporter:
    """The OTLP metric exporter for `protocol` (cumulative, as Prometheus counts)."""
    if protocol == "http/json":
        from service.telemetry.otlphttp import OtlpSender
        from service.telemetry.otlpjson import CONTENT_TYPE
        from service.telemetry.otlpjsonsignals import OTLPJsonMetricExporter

        return OTLPJsonMetricExporter(OtlpSender(destination, CONTENT_TYPE))
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return GrpcMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


def log_exporter(protocol: str, destination: OtlpHttp) -> LogRecordExporter:
    """The OTLP log record exporter for `protocol`."""
    if protocol == "http/json":
        from service.telemetry.otlphttp import OtlpSender
        from service.telemetry.otlpjson import CONTENT_TYPE
        from service.telemetry.otlpjsonsignals import OTLPJsonLogExporter

        return OTLPJsonLogExporter(OtlpSender(destination, CONTENT_TYPE))
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
            OTLPLogExporter as GrpcLogExporter,
        )

        return GrpcLogExporter()
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    return OTLPLogExporter()
