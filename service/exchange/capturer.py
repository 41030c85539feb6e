"""How a request becomes its echo record: the part the pipeline is handed by create_app.

The echo package (service.echo.record) implements it; the core only calls it, so
it imports no feature.
"""

from __future__ import annotations

from typing import Any, Protocol

from flask import Request

from service.exchange.outcome import Record
from service.exchange.traceids import TraceIds


class Capturer(Protocol):
    """How a request becomes its echo record (service.echo.record), handed in by create_app."""

    def capture(
        self,
        req: Request,
        request_id: str,
        trace: TraceIds | None,
        server: dict[str, Any],
        max_body_bytes: int,
    ) -> Record:
        """The whole record, its body read within `max_body_bytes`."""

    def capture_head(
        self, req: Request, request_id: str, trace: TraceIds | None, server: dict[str, Any]
    ) -> Record:
        """The record without reading the body."""

    def check(self, req: Request, record: Record) -> None:
        """Raise the error a captured record calls for (a body cut short: 400, or 408)."""
