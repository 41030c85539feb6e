"""The exporters of the metrics and log records echoscope encodes itself.

One class per signal, whatever the encoding: protobuf (otlpprotometrics,
otlpprotologs: the SDK's bytes at a fraction of its CPU) or JSON
(otlpjsonsignals). Each encodes a batch with the function it is given and
echoscope's sender (otlphttp) posts the body to the destination the settings
read from the standard variables. A batch the encoder refuses (a log body no
AnyValue holds, an int beyond int64) is not sent and the export fails, as the
SDK's exporters fail it. Metrics are cumulative with the default aggregations,
as /metrics counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData

from service.telemetry.otlphttp import OtlpSender

_log = logging.getLogger("opentelemetry.exporter.echoscope")  # held to one line per 30 s
_UNENCODABLE = (TypeError, ValueError, OverflowError)
Batch = TypeVar("Batch")


def _post(sender: OtlpSender, encode: Callable[[Batch], bytes], batch: Batch, what: str) -> bool:
    """Encode `batch` and post it; False when it could not be encoded or delivered."""
    try:
        body = encode(batch)
    except _UNENCODABLE as error:
        _log.warning("OTLP %s not encoded: %s", what, error)
        return False
    return sender.send(body)


class PostedMetricExporter(MetricExporter):
    """Metrics encoded by `encode`, posted by echoscope's sender."""

    def __init__(self, sender: OtlpSender, encode: Callable[[MetricsData], bytes]) -> None:
        super().__init__()  # cumulative temporality, the default aggregations
        self._sender = sender
        self._encode = encode

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Encode the metrics and post them."""
        ok = _post(self._sender, self._encode, metrics_data, "metrics")
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Nothing is held here."""
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """No more exports; a retry waiting now gives up."""
        self._sender.shutdown()


class PostedLogExporter(LogRecordExporter):
    """Log records encoded by `encode`, posted by echoscope's sender."""

    def __init__(
        self, sender: OtlpSender, encode: Callable[[Sequence[ReadableLogRecord]], bytes]
    ) -> None:
        self._sender = sender
        self._encode = encode

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Encode the batch and post it."""
        ok = _post(self._sender, self._encode, batch, "log records")
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is held here."""
        return True

    def shutdown(self) -> None:
        """No more exports; a retry waiting now gives up."""
        self._sender.shutdown()
