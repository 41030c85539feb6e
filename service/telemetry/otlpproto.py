"""OTLP/HTTP with the protobuf encoding (`http/protobuf`, the default), written directly.

The ExportTraceServiceRequest in protobuf wire format, written straight from the
finished spans without building the protobuf message objects the SDK's encoder
builds (a fraction of its CPU per span), with otlpwire's fields and values; field
numbers and wire types are opentelemetry-proto's. Posted by echoscope's sender
(otlphttp) to the destination the settings read from the standard variables.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, SpanContext, Status

from service.telemetry import otlpgroups, otlpwire
from service.telemetry.otlphttp import OtlpSender
from service.telemetry.otlpwire import (
    PAIRS_LIMIT,
    UINT64,
    Pair,
    Pairs,
    attributes,
    count,
    field,
    text,
    varint,
)

CONTENT_TYPE = "application/x-protobuf"
_ids = struct.Struct(">BBQQBBQ").pack  # trace_id (16 bytes) and span_id (8), tags included
_times = struct.Struct("<BQBQ").pack  # start_time_unix_nano, end_time_unix_nano
# Span.flags (field 16, fixed32): SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK, | IS_REMOTE_MASK
_LOCAL = b"\x85\x01" + struct.pack("<I", 0x100)
_REMOTE = b"\x85\x01" + struct.pack("<I", 0x300)
_LINK_LOCAL, _LINK_REMOTE = (b"\x35" + flags[2:] for flags in (_LOCAL, _REMOTE))  # Link.flags: 6
_KINDS = tuple(bytes((0x30, kind + 1)) for kind in range(5))  # SpanKind: OTLP counts from 1
_UNSET = b"\x7a\x00"  # Span.status, empty (the SDK keeps a description for ERROR only)


class OTLPProtobufSpanExporter(SpanExporter):
    """OTLP/HTTP with the protobuf encoding: spans written directly, sent by echoscope's sender."""

    def __init__(self, sender: OtlpSender) -> None:
        self._sender = sender
        self._encoder = SpanEncoder()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode the batch as an OTLP protobuf request and post it."""
        ok = self._sender.send(self._encoder.encode(spans))
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        """No more exports; a retry waiting now gives up."""
        self._sender.shutdown()


class SpanEncoder:
    """Writes ExportTraceServiceRequests, remembering the bytes of recent attribute pairs."""

    def __init__(self, limit: int = PAIRS_LIMIT) -> None:
        self._pairs = Pairs(limit)

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        """An ExportTraceServiceRequest, grouped by resource (by identity), then by scope."""
        pair = self._pairs.pair
        groups = otlpgroups.by_resource(spans, lambda span: _span(span, pair))
        return otlpwire.grouped_request(groups, pair)

    def __len__(self) -> int:
        """How many attribute pairs are cached now."""
        return len(self._pairs)


def _span(span: ReadableSpan, pair: Pair) -> bytes:
    """Span (ScopeSpans.spans, tag included), fields in number order as protobuf writes them."""
    context: SpanContext = span.context
    parent = span.parent
    start, end = span.start_time, span.end_time
    trace_id = context.trace_id
    body = b"".join(
        (
            _ids(0x0A, 16, trace_id >> 64, trace_id & UINT64, 0x12, 8, context.span_id),
            _trace_state(context) if context.trace_state else b"",
            b"\x22\x08" + parent.span_id.to_bytes(8, "big") if parent is not None else b"",
            text(b"\x2a", span.name),
            _KINDS[span.kind.value],
            _times(0x39, start, 0x41, end)
            if start and end
            else _time(0x39, start) + _time(0x41, end),
            attributes(b"\x4a", span.attributes, pair),
            _rare(span, pair),
            _status(span.status) if span.status.status_code.value else _UNSET,
            _REMOTE if parent is not None and parent.is_remote else _LOCAL,
        )
    )
    return b"".join((b"\x12", varint(len(body)), body))


def _trace_state(context: SpanContext) -> bytes:
    return text(b"\x1a", ",".join(f"{key}={value}" for key, value in context.trace_state.items()))


def _time(tag: int, nanos: int | None) -> bytes:
    return struct.pack("<BQ", tag, nanos) if nanos else b""


def _rare(span: ReadableSpan, pair: Pair) -> bytes:
    """Dropped counts, events and links (fields 10-14): absent from echoscope's server spans."""
    events, links = span.events, span.links
    dropped = span.dropped_attributes, span.dropped_events, span.dropped_links
    if not (events or links or any(dropped)):
        return b""
    return b"".join(
        (
            count(b"\x50", dropped[0]),
            b"".join(field(b"\x5a", _event(event, pair)) for event in events),
            count(b"\x60", dropped[1]),
            b"".join(field(b"\x6a", _link(link, pair)) for link in links),
            count(b"\x70", dropped[2]),
        )
    )


def _status(status: Status) -> bytes:
    code = status.status_code.value
    return field(b"\x7a", text(b"\x12", status.description) + count(b"\x18", code))


def _event(event: Event, pair: Pair) -> bytes:
    return b"".join(
        (
            _time(0x09, event.timestamp),
            text(b"\x12", event.name),
            attributes(b"\x1a", event.attributes, pair),
            count(b"\x20", event.dropped_attributes),
        )
    )


def _link(link: Link, pair: Pair) -> bytes:
    context = link.context
    return b"".join(
        (
            b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + context.span_id.to_bytes(8, "big"),
            attributes(b"\x22", link.attributes, pair),
            count(b"\x28", link.dropped_attributes),
            _LINK_REMOTE if context.is_remote else _LINK_LOCAL,
        )
    )
