"""OTLP/HTTP with the protobuf encoding for metrics and log records (`http/protobuf`, the default).

As for spans (otlpproto): echoscope writes the request (otlpprotometrics,
otlpprotologs: the SDK's bytes, a fraction of its CPU) and its sender
(otlphttp) posts it to the destination the settings read from the standard
variables. Metrics are cumulative with the default aggregations, as the JSON
exporter's (otlpjsonsignals) and /metrics count. A batch the SDK's encoder
could not encode either (a log body no AnyValue holds, an int beyond int64)
is not sent, as the SDK's exporters do.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData

from service.telemetry.otlphttp import OtlpSender
from service.telemetry.otlpprotologs import LogEncoder
from service.telemetry.otlpprotometrics import MetricEncoder

CONTENT_TYPE = "application/x-protobuf"
_log = logging.getLogger("opentelemetry.exporter.echoscope")  # held to one line per 30 s
_UNENCODABLE = (TypeError, ValueError, OverflowError)


class OTLPProtobufMetricExporter(MetricExporter):
    """OTLP/HTTP with the protobuf encoding for metrics, sent by echoscope's sender."""

    def __init__(self, sender: OtlpSender) -> None:
        super().__init__()  # cumulative temporality, the default aggregations
        self._sender = sender
        self._encoder = MetricEncoder()

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Encode the metrics as an OTLP protobuf request and post it."""
        try:
            body = self._encoder.encode(metrics_data)
        except _UNENCODABLE as error:
            _log.warning("OTLP metrics not encoded: %s", error)
            return MetricExportResult.FAILURE
        ok = self._sender.send(body)
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Nothing is held here."""
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """No more exports; a retry waiting now gives up."""
        self._sender.shutdown()


class OTLPProtobufLogExporter(LogRecordExporter):
    """OTLP/HTTP with the protobuf encoding for log records, sent by echoscope's sender."""

    def __init__(self, sender: OtlpSender) -> None:
        self._sender = sender
        self._encoder = LogEncoder()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Encode the batch as an OTLP protobuf request and post it."""
        try:
            body = self._encoder.encode(batch)
        except _UNENCODABLE as error:
            _log.warning("OTLP log records not encoded: %s", error)
            return LogRecordExportResult.FAILURE
        ok = self._sender.send(body)
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is held here."""
        return True

    def shutdown(self) -> None:
        """No more exports; a retry waiting now gives up."""
        self._sender.shutdown()
