"""Protobuf wire format for OTLP: varints, fields, and KeyValue/AnyValue as the SDK types them.

Written directly, without protobuf message objects. Each value gets the AnyValue
type the SDK's encoder gives it. Most attribute pairs repeat (method, scheme,
host, route, status): `Pairs` keeps their encoded bytes, bounded. The Resource
and InstrumentationScope messages every signal's request starts with, and the groups
around its items (ResourceSpans/Logs/Metrics, ScopeSpans/Logs/Metrics), are here too.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

PAIRS_LIMIT = 4096  # cached attribute pairs: cleared when full, so URLs never grow memory
UINT64 = (1 << 64) - 1
_INT64_MIN, _INT64_END = -(1 << 63), 1 << 63
_ONE_BYTE = tuple(bytes((n,)) for n in range(0x80))
_double = struct.Struct("<d").pack
_fixed64 = struct.Struct("<BQ").pack
Pair = Callable[[str, Any], bytes]


class Pairs:
    """Encoded KeyValues of recent (key, value, type)s; cleared when it holds `limit`."""

    def __init__(self, limit: int = PAIRS_LIMIT) -> None:
        self._encoded: dict[tuple[str, Any, type], bytes] = {}
        self._limit = limit

    def pair(self, key: str, value: Any) -> bytes:
        """A KeyValue, length-prefixed; the same (key, value, type) encoded once while cached."""
        kind = type(value)
        if kind is not str and kind is not int and kind is not bool:
            return key_value(key, value)  # floats too: -0.0 == 0.0, yet their bytes differ
        cached = self._encoded.get((key, value, kind))
        if cached is None:
            cached = key_value(key, value)
            if len(self._encoded) >= self._limit:
                self._encoded.clear()
            self._encoded[(key, value, kind)] = cached
        return cached

    def __len__(self) -> int:
        """How many pairs are cached now."""
        return len(self._encoded)


def varint(n: int) -> bytes:
    """An unsigned varint: 7 bits a byte, low bits first."""
    if n < 0x80:
        return _ONE_BYTE[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return b"".join((tag, varint(len(payload)), payload))


def text(tag: bytes, value: str | None) -> bytes:
    """A string field, absent when empty (proto3)."""
    return field(tag, value.encode()) if value else b""


def count(tag: bytes, number: int) -> bytes:
    """A uint32 field, absent when zero."""
    return tag + varint(number) if number else b""


def fixed64(tag: int, number: int | None) -> bytes:
    """A fixed64 field (a time, a count), absent when zero or None (proto3)."""
    return _fixed64(tag, number) if number else b""


def double(tag: int, number: float | None) -> bytes:
    """A double field with presence (`optional`, a oneof member): absent only when None."""
    return b"" if number is None else bytes((tag,)) + _double(number)


def int64(tag: int, number: int) -> bytes:
    """An sfixed64 field with presence (a oneof's as_int): protobuf's checks (no bool)."""
    if isinstance(number, bool):
        raise TypeError("an int field holds no bool")
    # Compared, not `in range(...)`: for an int subclass (an IntEnum) range.__contains__
    # counts through all 2**64 members.
    if not _INT64_MIN <= number < _INT64_END:
        raise ValueError(f"{number} is out of int64's range")
    return _fixed64(tag, number & UINT64)


def zigzag(tag: bytes, number: int) -> bytes:
    """An sint32 field (zigzag varint), absent when zero."""
    if not number:
        return b""
    return tag + varint(number << 1 if number > 0 else (-number << 1) - 1)


def _resource(values: Resource, pair: Pair) -> bytes:
    """Resource{ attributes } as its field 1 (always present, as the SDK's encoders send it)."""
    return field(b"\x0a", attributes(b"\x0a", values.attributes, pair))


def _scope(values: InstrumentationScope | None, pair: Pair) -> bytes:
    """InstrumentationScope{ name, version, attributes } as field 1 (None: an empty scope)."""
    if values is None:
        return b"\x0a\x00"
    encoded = b"".join(
        (
            text(b"\x0a", values.name),
            text(b"\x12", values.version),
            attributes(b"\x1a", values.attributes, pair),
        )
    )
    return field(b"\x0a", encoded)


def scope_group(values: InstrumentationScope | None, items: Iterable[bytes], pair: Pair) -> bytes:
    """ScopeSpans, ScopeLogs or ScopeMetrics (the same fields): the scope (1), its items,
    each written with its tag (2), the scope's schema URL (3)."""
    schema_url = values.schema_url if values is not None else None
    return b"".join((_scope(values, pair), *items, text(b"\x1a", schema_url)))


def resource_group(values: Resource, scope_groups: Iterable[bytes], pair: Pair) -> bytes:
    """ResourceSpans, ResourceLogs or ResourceMetrics (the same fields) as the request's
    field 1: the resource (1), each scope_group (2), the resource's schema URL (3)."""
    groups = (field(b"\x12", group) for group in scope_groups)
    body = b"".join((_resource(values, pair), *groups, text(b"\x1a", values.schema_url)))
    return field(b"\x0a", body)


def grouped_request(
    groups: Iterable[tuple[Resource, Mapping[InstrumentationScope | None, list[bytes]]]],
    pair: Pair,
) -> bytes:
    """An export request of items grouped by resource, then scope (otlpgroups.by_resource)."""
    return b"".join(
        resource_group(
            each, (scope_group(scope, items, pair) for scope, items in scopes.items()), pair
        )
        for each, scopes in groups
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


def key_value(key: str, item: Any) -> bytes:
    """KeyValue, length-prefixed: key (field 1) and value (field 2, always present)."""
    body = text(b"\x0a", key) + field(b"\x12", any_value(item))
    return varint(len(body)) + body


def any_value(item: Any) -> bytes:
    """AnyValue: the SDK's type choice (None is an empty value)."""
    if item is None:
        return b""
    if isinstance(item, bool):
        return b"\x10\x01" if item else b"\x10\x00"
    if isinstance(item, str):
        return field(b"\x0a", item.encode())
    if isinstance(item, int):
        # Compared, not `in range(...)`: for an int subclass (an IntEnum such as a WebSocket
        # close code) `range.__contains__` counts through all 2**64 members.
        if not _INT64_MIN <= item < _INT64_END:
            raise ValueError(f"{item} is out of int64's range")
        return b"\x18" + varint(item & UINT64)  # two's complement: negatives take 10 bytes
    if isinstance(item, float):
        return b"\x21" + _double(item)
    if isinstance(item, bytes):
        return field(b"\x3a", item)
    if isinstance(item, Sequence):
        return field(b"\x2a", b"".join(field(b"\x0a", any_value(v)) for v in item))
    if isinstance(item, Mapping):
        pairs = b"".join(b"\x0a" + key_value(str(k), v) for k, v in item.items())
        return field(b"\x32", pairs)
    raise TypeError(f"no AnyValue holds a {type(item).__name__}")
