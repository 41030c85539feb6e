"""Parsers for the trace headers a request may carry, each checked against its own spec.

Every parser returns a JSON-ready dict: the `value` as received, `valid`, the
`error` that made it invalid (or None), and the fields it carries. Ids are
lowercase hex (`trace_id` 32 digits, `span_id` 16: the caller's span, which
W3C calls the parent id), so formats can be compared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

Parsed = dict[str, Any]

_HEX = re.compile(r"[0-9a-f]+")
_ANY_HEX = re.compile(r"[0-9a-fA-F]+")
_PLAIN_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_TRACESTATE_KEY = re.compile(
    r"[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}"
)
_TRACESTATE_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}(?<! )")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CLOUD_TRACE = re.compile(r"(?P<trace>[^/;]*)(?:/(?P<span>[^;]*))?(?:;o=(?P<options>.*))?")
_MAX_TRACESTATE_MEMBERS = 32
_MAX_BAGGAGE_BYTES = 8192
_B3_SAMPLED = {"1": True, "d": True, "true": True, "0": False, "false": False}


class _Invalid(ValueError):
    """Why a header value breaks its format."""


def traceparent(value: str) -> Parsed:
    """W3C `traceparent`: version-traceid-parentid-flags, lowercase hex, no all-zero ids."""
    plain = _PLAIN_TRACEPARENT.fullmatch(value)
    if plain is not None:  # the usual one, valid at a glance: the same fields, in short
        version, trace_id, span_id, flags = plain.groups()
        if version != "ff" and trace_id.strip("0") and span_id.strip("0"):
            return {
                "value": value,
                "valid": True,
                "error": None,
                "version": version,
                "trace_id": trace_id,
                "span_id": span_id,
                "flags": flags,
                "sampled": bool(int(flags, 16) & 1),
            }
    return _parsed(value, _traceparent_fields)


def tracestate(value: str) -> Parsed:
    """W3C `tracestate`: at most 32 `key=value` members, keys unique and well formed."""
    return _parsed(value, _tracestate_fields)


def cloud_trace(value: str) -> Parsed:
    """Google's `X-Cloud-Trace-Context`: TRACE_ID/SPAN_ID;o=OPTIONS, the span id in decimal."""
    return _parsed(value, _cloud_trace_fields)


def baggage(value: str) -> Parsed:
    """W3C `baggage`: `key=value` members (percent-encoded values, optional properties)."""
    return _parsed(value, _baggage_fields)


def b3_single(value: str) -> Parsed:
    """Zipkin's single `b3` header: traceid-spanid[-sampled[-parentspanid]], or a lone decision."""
    return _parsed(value, _b3_single_fields)


def b3_multi(headers: Mapping[str, str]) -> Parsed:
    """Zipkin's `X-B3-*` headers (lowercase keys), checked together."""
    shown = {name: headers[name] for name in _B3_NAMES if name in headers}
    parsed = _parsed(shown, _b3_multi_fields)
    parsed["value"] = shown
    return parsed


def _parsed(value: Any, fields: Any) -> Parsed:
    try:
        return {"value": value, "valid": True, "error": None, **fields(value)}
    except _Invalid as error:
        return {"value": value, "valid": False, "error": str(error)}


def _traceparent_fields(value: str) -> Parsed:
    parts = value.split("-")
    if len(parts) < 4:
        raise _Invalid("expected version-traceid-parentid-flags")
    version, trace_id, span_id, flags = parts[:4]
    _hex(version, 2, "version")
    if version == "ff":
        raise _Invalid("version ff is forbidden")
    if version == "00" and len(parts) != 4:
        raise _Invalid("version 00 has exactly four fields")
    return {
        "version": version,
        "trace_id": _id(trace_id, 32, "trace id"),
        "span_id": _id(span_id, 16, "parent id"),
        "flags": _hex(flags, 2, "flags"),
        "sampled": bool(int(flags, 16) & 1),
    }


def _tracestate_fields(value: str) -> Parsed:
    members = [part.strip(" \t") for part in value.split(",")]
    members = [member for member in members if member]
    if len(members) > _MAX_TRACESTATE_MEMBERS:
        raise _Invalid(f"{len(members)} members: at most {_MAX_TRACESTATE_MEMBERS}")
    found: list[dict[str, str]] = []
    for member in members:
        key, sep, item = member.partition("=")
        if not sep or not _TRACESTATE_KEY.fullmatch(key):
            raise _Invalid(f"bad key in member {member[:64]!r}")
        if not _TRACESTATE_VALUE.fullmatch(item):
            raise _Invalid(f"bad value for key {key!r}")
        if any(known["key"] == key for known in found):
            raise _Invalid(f"key {key!r} repeats")
        found.append({"key": key, "value": item})
    return {"members": found}


def _cloud_trace_fields(value: str) -> Parsed:
    # As Google's libraries read it (service.telemetry.cloudtrace continues traces with it):
    # a bare TRACE_ID, or a span id of 0, is continued under a stand-in parent.
    match = _CLOUD_TRACE.fullmatch(value)
    if match is None:
        raise _Invalid("expected TRACE_ID/SPAN_ID;o=OPTIONS")
    trace, span, options = match["trace"], match["span"] or "", match["options"]
    if len(trace) != 32 or not _ANY_HEX.fullmatch(trace):
        raise _Invalid(f"trace id must be 32 hex digits, got {trace[:40]!r}")
    if span and (not span.isascii() or not span.isdigit() or len(span) > 20):
        raise _Invalid("span id must be a decimal number")
    if options is not None and not (options.isascii() and options.isdigit()):
        raise _Invalid("o= must be a number (1: sampled)")
    span_number = int(span or "0")
    fields: Parsed = {
        "trace_id": _id(trace.lower(), 32, "trace id"),
        "span_id": format(span_number, "016x") if 0 < span_number < 1 << 64 else None,
        "sampled": None if options is None else options == "1",
    }
    notes = ["uppercase hex"] if trace != trace.lower() else []
    if fields["span_id"] is None:
        notes.append("no usable span id: continued under a stand-in parent")
    if notes:
        fields["note"] = "; ".join(notes)
    return fields


def _baggage_fields(value: str) -> Parsed:
    if len(value.encode()) > _MAX_BAGGAGE_BYTES:
        raise _Invalid(f"longer than {_MAX_BAGGAGE_BYTES} bytes")
    entries: dict[str, str] = {}
    for member in value.split(","):
        pair = member.split(";", 1)[0].strip(" \t")
        key, sep, item = pair.partition("=")
        key = key.strip(" \t")
        if not sep or not _TOKEN.fullmatch(key):
            raise _Invalid(f"bad member {member.strip()[:64]!r}")
        entries[key] = unquote(item.strip(" \t"))
    return {"entries": entries}


def _b3_single_fields(value: str) -> Parsed:
    parts = value.split("-")
    if len(parts) == 1:
        return {"trace_id": None, "span_id": None, "sampled": _b3_decision(parts[0])}
    if len(parts) > 4:
        raise _Invalid("expected traceid-spanid[-sampled[-parentspanid]]")
    trace_id = _b3_trace_id(parts[0])
    fields: Parsed = {"trace_id": trace_id, "span_id": _id(parts[1], 16, "span id")}
    fields["sampled"] = _b3_decision(parts[2]) if len(parts) > 2 else None
    if len(parts) == 4:
        fields["parent_span_id"] = _id(parts[3], 16, "parent span id")
    return fields


_B3_NAMES = ("x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags")


def _b3_multi_fields(headers: Mapping[str, str]) -> Parsed:
    trace, span = headers.get("x-b3-traceid"), headers.get("x-b3-spanid")
    if (trace is None) != (span is None):
        raise _Invalid("X-B3-TraceId and X-B3-SpanId come together")
    sampled = headers.get("x-b3-sampled")
    fields: Parsed = {
        "trace_id": None if trace is None else _b3_trace_id(trace),
        "span_id": None if span is None else _id(span, 16, "span id"),
        "sampled": None if sampled is None else _b3_decision(sampled.lower()),
    }
    if headers.get("x-b3-flags") == "1":
        fields["sampled"] = True  # debug implies sampled
    return fields


def _b3_trace_id(text: str) -> str:
    if len(text) == 16:
        return "0" * 16 + _id(text, 16, "trace id")  # 64-bit ids are left-padded
    return _id(text, 32, "trace id")


def _b3_decision(text: str) -> bool:
    if text not in _B3_SAMPLED:
        raise _Invalid(f"sampling state {text[:8]!r} is not 0, 1 or d")
    return _B3_SAMPLED[text]


def _hex(text: str, length: int, name: str) -> str:
    if len(text) != length:
        raise _Invalid(f"{name} must be {length} hex digits, got {len(text)}")
    if not _HEX.fullmatch(text):
        case = " lowercase" if _ANY_HEX.fullmatch(text) else ""
        raise _Invalid(f"{name} must be{case} hex digits")
    return text


def _id(text: str, length: int, name: str) -> str:
    if not _hex(text, length, name).strip("0"):
        raise _Invalid(f"{name} is all zeros")
    return text
