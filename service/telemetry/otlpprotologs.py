"""OTLP protobuf for log records (`http/protobuf`, the default protocol), written directly.

The ExportLogsServiceRequest in protobuf wire format, written straight from the
finished records with otlpwire's fields and values: byte for byte what the SDK's
encoder (encode_logs) serializes, without building its message objects; field
numbers and wire types are opentelemetry-proto's. Records are grouped by
resource (by identity), then by scope (otlpgroups). otlpposted's exporter
posts it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from opentelemetry.sdk._logs import ReadableLogRecord

from service.telemetry import otlpgroups, otlpwire
from service.telemetry.otlpwire import (
    PAIRS_LIMIT,
    UINT64,
    Pair,
    Pairs,
    any_value,
    attributes,
    count,
    field,
    fixed64,
    text,
    varint,
)

_flags = struct.Struct("<BI").pack  # LogRecord.flags (8): fixed32
_trace_id = struct.Struct(">BBQQ").pack  # LogRecord.trace_id (9): 16 bytes, tag included


class LogEncoder:
    """Writes ExportLogsServiceRequests, remembering the bytes of recent attribute pairs."""

    def __init__(self, limit: int = PAIRS_LIMIT) -> None:
        self._pairs = Pairs(limit)

    def encode(self, batch: Sequence[ReadableLogRecord]) -> bytes:
        """An ExportLogsServiceRequest, grouped by resource (by identity), then by scope."""
        pair = self._pairs.pair
        groups = otlpgroups.by_resource(batch, lambda record: _log_record(record, pair))
        return otlpwire.grouped_request(groups, pair)

    def __len__(self) -> int:
        """How many attribute pairs are cached now."""
        return len(self._pairs)


def _log_record(readable: ReadableLogRecord, pair: Pair) -> bytes:
    """LogRecord (ScopeLogs.log_records, tag included), fields in number order."""
    record = readable.log_record
    severity = record.severity_number
    flags = int(record.trace_flags or 0)
    trace_id, span_id = record.trace_id, record.span_id
    body = b"".join(
        (
            fixed64(0x09, record.timestamp),
            count(b"\x10", severity.value) if severity is not None else b"",
            text(b"\x1a", record.severity_text),
            field(b"\x2a", any_value(record.body)),  # always present: None is an empty value
            attributes(b"\x32", record.attributes, pair),
            count(b"\x38", readable.dropped_attributes),
            _flags(0x45, flags) if flags else b"",
            _trace_id(0x4A, 16, trace_id >> 64, trace_id & UINT64) if trace_id else b"",
            b"\x52\x08" + span_id.to_bytes(8, "big") if span_id else b"",
            fixed64(0x59, record.observed_timestamp),
            text(b"\x62", record.event_name),
        )
    )
    return b"".join((b"\x12", varint(len(body)), body))
