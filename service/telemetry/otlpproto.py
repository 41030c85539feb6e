"""OTLP/HTTP with the protobuf encoding (`http/protobuf`, the default), written directly.

The ExportTraceServiceRequest in protobuf wire format, written straight from the
finished spans without building the protobuf message objects the SDK's encoder
builds (a fraction of its CPU per span). Field numbers and wire types are
opentelemetry-proto's; each value gets the AnyValue type the SDK's encoder gives
it. Most attribute pairs repeat (method, scheme, host, route, status), so their
encoded bytes are kept in a bounded cache. Posted by echoscope's sender
(otlphttp) to the destination the settings read from the standard variables.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, Status

from service.telemetry.otlphttp import OtlpSender

CONTENT_TYPE = "application/x-protobuf"
PAIRS_LIMIT = 4096  # cached attribute pairs: cleared when full, so URLs never grow memory
_INT64 = range(-(1 << 63), 1 << 63)
_UINT64 = (1 << 64) - 1
_ONE_BYTE = tuple(bytes((n,)) for n in range(0x80))
_fixed64 = struct.Struct("<Q").pack
_double = struct.Struct("<d").pack
_ids = struct.Struct(">BBQQBBQ").pack  # trace_id (16 bytes) and span_id (8), tags included
_times = struct.Struct("<BQBQ").pack  # start_time_unix_nano, end_time_unix_nano
# Span.flags (field 16, fixed32): SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK, | IS_REMOTE_MASK
_LOCAL = b"\x85\x01" + struct.pack("<I", 0x100)
_REMOTE = b"\x85\x01" + struct.pack("<I", 0x300)
_LINK_LOCAL, _LINK_REMOTE = (b"\x35" + flags[2:] for flags in (_LOCAL, _REMOTE))  # Link.flags: 6
_KINDS = tuple(bytes((0x30, kind + 1)) for kind in range(5))  # SpanKind: OTLP counts from 1
_UNSET = b"\x7a\x00"  # Span.status, empty: the SDK always sets it
Pair = Callable[[str, Any], bytes]


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
        self._pairs: dict[tuple[str, Any, type], bytes] = {}
        self._limit = limit

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        """An ExportTraceServiceRequest, grouped by resource (by identity), then by scope."""
        resources: dict[int, Resource] = {}
        grouped: dict[int, dict[InstrumentationScope | None, list[bytes]]] = {}
        pair = self.pair
        for span in spans:
            resources.setdefault(id(span.resource), span.resource)
            scopes = grouped.setdefault(id(span.resource), {})
            scopes.setdefault(span.instrumentation_scope, []).append(_span(span, pair))
        return b"".join(
            _field(b"\x0a", _resource_spans(resources[key], scopes, pair))
            for key, scopes in grouped.items()
        )

    def pair(self, key: str, value: Any) -> bytes:
        """A KeyValue, length-prefixed; the same (key, value, type) encoded once while cached."""
        kind = type(value)
        if kind is not str and kind is not int and kind is not bool:
            return _key_value(key, value)  # floats too: -0.0 == 0.0, yet their bytes differ
        cached = self._pairs.get((key, value, kind))
        if cached is None:
            cached = _key_value(key, value)
            if len(self._pairs) >= self._limit:
                self._pairs.clear()
            self._pairs[(key, value, kind)] = cached
        return cached

    def __len__(self) -> int:
        return len(self._pairs)


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _ONE_BYTE[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return b"".join((tag, _varint(len(payload)), payload))


def _text(tag: bytes, text: str | None) -> bytes:
    """A string field, absent when empty (proto3)."""
    return _field(tag, text.encode()) if text else b""


def _count(tag: bytes, count: int) -> bytes:
    """A uint32 field, absent when zero."""
    return tag + _varint(count) if count else b""


def _resource_spans(
    resource: Resource, scopes: Mapping[InstrumentationScope | None, list[bytes]], pair: Pair
) -> bytes:
    parts = [_field(b"\x0a", attributes(b"\x0a", resource.attributes, pair))]
    parts.extend(
        _field(b"\x12", _scope_spans(scope, spans, pair)) for scope, spans in scopes.items()
    )
    parts.append(_text(b"\x1a", resource.schema_url))
    return b"".join(parts)


def _scope_spans(scope: InstrumentationScope | None, spans: list[bytes], pair: Pair) -> bytes:
    if scope is None:
        return b"\x0a\x00" + b"".join(spans)  # an empty scope, as the SDK's encoder sends it
    encoded = b"".join(
        (
            _text(b"\x0a", scope.name),
            _text(b"\x12", scope.version),
            attributes(b"\x1a", scope.attributes, pair),
        )
    )
    return b"".join((_field(b"\x0a", encoded), *spans, _text(b"\x1a", scope.schema_url)))


def _span(span: ReadableSpan, pair: Pair) -> bytes:
    """Span (ScopeSpans.spans, tag included), fields in number order as protobuf writes them."""
    context: SpanContext = span.context
    parent = span.parent
    start, end = span.start_time, span.end_time
    trace_id = context.trace_id
    body = b"".join(
        (
            _ids(0x0A, 16, trace_id >> 64, trace_id & _UINT64, 0x12, 8, context.span_id),
            _trace_state(context) if context.trace_state else b"",
            b"\x22\x08" + parent.span_id.to_bytes(8, "big") if parent is not None else b"",
            _text(b"\x2a", span.name),
            _KINDS[span.kind.value],
            _times(0x39, start, 0x41, end)
            if start and end
            else _time(0x39, start) + _time(0x41, end),
            attributes(b"\x4a", span.attributes, pair),
            _rare(span, pair),
            _UNSET
            if span.status.is_unset and not span.status.description
            else _status(span.status),
            _REMOTE if parent is not None and parent.is_remote else _LOCAL,
        )
    )
    return b"".join((b"\x12", _varint(len(body)), body))


def _trace_state(context: SpanContext) -> bytes:
    return _text(b"\x1a", ",".join(f"{key}={value}" for key, value in context.trace_state.items()))


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
            _count(b"\x50", dropped[0]),
            b"".join(_field(b"\x5a", _event(event, pair)) for event in events),
            _count(b"\x60", dropped[1]),
            b"".join(_field(b"\x6a", _link(link, pair)) for link in links),
            _count(b"\x70", dropped[2]),
        )
    )


def _status(status: Status) -> bytes:
    code = status.status_code.value
    return _field(b"\x7a", _text(b"\x12", status.description) + _count(b"\x18", code))


def _event(event: Event, pair: Pair) -> bytes:
    return b"".join(
        (
            _time(0x09, event.timestamp),
            _text(b"\x12", event.name),
            attributes(b"\x1a", event.attributes, pair),
            _count(b"\x20", event.dropped_attributes),
        )
    )


def _link(link: Link, pair: Pair) -> bytes:
    context = link.context
    return b"".join(
        (
            b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + context.span_id.to_bytes(8, "big"),
            attributes(b"\x22", link.attributes, pair),
            _count(b"\x28", link.dropped_attributes),
            _LINK_REMOTE if context.is_remote else _LINK_LOCAL,
        )
    )


def attributes(tag: bytes, values: Mapping[str, Any] | None, pair: Pair) -> bytes:
    """Repeated KeyValue field `tag`; a value no AnyValue can hold is left out, as the SDK does."""
    if not values:
        return b""
    try:
        return tag + tag.join([pair(key, item) for key, item in values.items()])
    except (TypeError, ValueError):  # rare: pick the pairs that can be encoded
        return b"".join(tag + encoded for encoded in _valid(values.items(), pair))


def _valid(items: Iterable[tuple[str, Any]], pair: Pair) -> Iterable[bytes]:
    for key, item in items:
        try:
            yield pair(key, item)
        except (TypeError, ValueError):
            continue


def _key_value(key: str, item: Any) -> bytes:
    """KeyValue, length-prefixed: key (field 1) and value (field 2, always present)."""
    body = _text(b"\x0a", key) + _field(b"\x12", _any_value(item))
    return _varint(len(body)) + body


def _any_value(item: Any) -> bytes:
    """AnyValue: the SDK's type choice (None is an empty value)."""
    if item is None:
        return b""
    if isinstance(item, bool):
        return b"\x10\x01" if item else b"\x10\x00"
    if isinstance(item, str):
        return _field(b"\x0a", item.encode())
    if isinstance(item, int):
        if item not in _INT64:
            raise ValueError(f"{item} is out of int64's range")
        return b"\x18" + _varint(item & _UINT64)  # two's complement: negatives take 10 bytes
    if isinstance(item, float):
        return b"\x21" + _double(item)
    if isinstance(item, bytes):
        return _field(b"\x3a", item)
    if isinstance(item, Sequence):
        return _field(b"\x2a", b"".join(_field(b"\x0a", _any_value(v)) for v in item))
    if isinstance(item, Mapping):
        pairs = b"".join(b"\x0a" + _key_value(str(k), v) for k, v in item.items())
        return _field(b"\x32", pairs)
    raise TypeError(f"no AnyValue holds a {type(item).__name__}")
