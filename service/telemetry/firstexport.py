"""A span exporter made on its first use, on the exporter's own thread, not at start.

The OTLP exporters import their HTTP client and protobuf (or gRPC) when made:
~280M instructions, 15 % of a worker's start, all before the first request could
be answered. Made by the batch processor's thread at its first export (or flush),
they load while the first requests are already being served; what and where they
send is unchanged, and a worker stopped before any span was ended makes none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class MadeOnFirstUse(SpanExporter):
    """The exporter `make` returns (None: spans go nowhere), made at the first export."""

    def __init__(self, make: Callable[[], SpanExporter | None]) -> None:
        self._make = make
        self._exporter: SpanExporter | None = None
        self._made = False
        self._lock = threading.Lock()

    def exporter(self) -> SpanExporter | None:
        """The exporter, made now if it was not yet."""
        with self._lock:
            if not self._made:
                self._exporter, self._made = self._make(), True
            return self._exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """The made exporter's export."""
        exporter = self.exporter()
        return exporter.export(spans) if exporter is not None else SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """The made exporter's flush; nothing to flush when none was made."""
        with self._lock:
            exporter = self._exporter
        return exporter.force_flush(timeout_millis) if exporter is not None else True

    def shutdown(self) -> None:
        """The made exporter's shutdown; none is made for it."""
        with self._lock:
            exporter = self._exporter
        if exporter is not None:
            exporter.shutdown()
