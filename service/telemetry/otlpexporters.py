"""The OTLP exporter of each signal, for the protocol its settings name.

All three signals over `http/protobuf` (the default) and over `http/json` are
echoscope's encodings (otlpproto, otlpprotometrics, otlpprotologs; otlpjson,
otlpjsonsignals), posted by its own sender (otlphttp; for metrics and log
records through otlpposted's exporters) to the destination the settings read
from the standard OTEL_EXPORTER_OTLP_* and
OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_* variables. `grpc`, and
`http/protobuf` when a setting asks for what only the SDK's exporter does (a
credential provider, the SDK's internal metrics, for metrics a temporality
preference or default histogram aggregation), are the standard exporter
packages, which read the same variables themselves. Imports are deferred: a
protocol nobody uses costs no import (gRPC's is heavy).
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
    if protocol == "http/protobuf" and not _needs_sdk(destination):
        from service.telemetry import otlpproto
        from service.telemetry.otlphttp import OtlpSender

        return otlpproto.OTLPProtobufSpanExporter(OtlpSender(destination, otlpproto.CONTENT_TYPE))
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _needs_sdk(destination: OtlpHttp) -> bool:
    """True when a setting asks for what only the SDK's exporter does (it reads it itself)."""
    return (
        destination.credential_provider is not None
        or destination.exporter_metrics
        or destination.metric_preferences
    )


def metric_exporter(protocol: str, destination: OtlpHttp) -> MetricExporter:
    """The OTLP metric exporter for `protocol` (cumulative, as Prometheus counts)."""
    if protocol == "http/json":
        from service.telemetry import otlpjson, otlpjsonsignals
        from service.telemetry.otlphttp import OtlpSender
        from service.telemetry.otlpposted import PostedMetricExporter

        sender = OtlpSender(destination, otlpjson.CONTENT_TYPE)
        return PostedMetricExporter(sender, otlpjsonsignals.encode_metrics_json)
    if protocol == "http/protobuf" and not _needs_sdk(destination):
        from service.telemetry import otlpproto
        from service.telemetry.otlphttp import OtlpSender
        from service.telemetry.otlpposted import PostedMetricExporter
        from service.telemetry.otlpprotometrics import MetricEncoder

        sender = OtlpSender(destination, otlpproto.CONTENT_TYPE)
        return PostedMetricExporter(sender, MetricEncoder().encode)
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
        from service.telemetry import otlpjson, otlpjsonsignals
        from service.telemetry.otlphttp import OtlpSender
        from service.telemetry.otlpposted import PostedLogExporter

        sender = OtlpSender(destination, otlpjson.CONTENT_TYPE)
        return PostedLogExporter(sender, otlpjsonsignals.encode_logs)
    if protocol == "http/protobuf" and not _needs_sdk(destination):
        from service.telemetry import otlpproto
        from service.telemetry.otlphttp import OtlpSender
        from service.telemetry.otlpposted import PostedLogExporter
        from service.telemetry.otlpprotologs import LogEncoder

        sender = OtlpSender(destination, otlpproto.CONTENT_TYPE)
        return PostedLogExporter(sender, LogEncoder().encode)
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
            OTLPLogExporter as GrpcLogExporter,
        )

        return GrpcLogExporter()
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    return OTLPLogExporter()
