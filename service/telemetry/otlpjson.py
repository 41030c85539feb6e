"""OTLP/HTTP with the JSON encoding (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json`), via orjson.

Endpoint, headers, timeout, compression, TLS and retries come from the standard
OTEL_EXPORTER_OTLP_* variables with the SDK's meanings (service.settings.otlp),
sent by service.telemetry.otlphttp. The body: the OTLP JSON mapping (hex
trace and span ids, 64-bit integers as strings, enums as integers, lowerCamelCase
names) written straight from the finished spans, without building the protobuf
messages first (a third of the CPU the protobuf encoding takes per span).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext

from service.telemetry import otlpgroups
from service.telemetry.otlphttp import OtlpSender

CONTENT_TYPE = "application/json"
_HAS_IS_REMOTE = 0x100  # SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_IS_REMOTE = 0x200  # SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_NOT_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}
JsonObject = dict[str, Any]


class OTLPJsonSpanExporter(SpanExporter):
    """OTLP/HTTP with the JSON encoding: spans encoded with orjson, sent by echoscope's sender."""

    def __init__(self, sender: OtlpSender) -> None:
        self._sender = sender

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode the batch as OTLP JSON and post it."""
        ok = self._sender.send(encode(spans))
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        """No more exports; a retry waiting now gives up."""
        self._sender.shutdown()


def encode(spans: Sequence[ReadableSpan]) -> bytes:
    """An ExportTraceServiceRequest in the OTLP JSON encoding."""
    encoded = [
        _resource_spans(resource, scopes)
        for resource, scopes in otlpgroups.by_resource(spans, _span)
    ]
    return orjson.dumps({"resourceSpans": encoded})


def _resource_spans(
    resource: Resource, scopes: Mapping[InstrumentationScope | None, list[JsonObject]]
) -> JsonObject:
    encoded: JsonObject = {
        "resource": {"attributes": attributes(resource.attributes)},
        "scopeSpans": [_scope_spans(scope, spans) for scope, spans in scopes.items()],
    }
    if resource.schema_url:
        encoded["schemaUrl"] = resource.schema_url
    return encoded


def _scope_spans(scope: InstrumentationScope | None, spans: list[JsonObject]) -> JsonObject:
    if scope is None:
        return {"scope": {}, "spans": spans}
    encoded: JsonObject = {"scope": {"name": scope.name}, "spans": spans}
    if scope.version:
        encoded["scope"]["version"] = scope.version
    if scope.attributes:
        encoded["scope"]["attributes"] = attributes(scope.attributes)
    if scope.schema_url:
        encoded["schemaUrl"] = scope.schema_url
    return encoded


def _span(span: ReadableSpan) -> JsonObject:
    context = span.get_span_context()
    assert context is not None  # an SDK span always has one
    parent = span.parent
    encoded: JsonObject = {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
        "name": span.name,
        "kind": span.kind.value + 1,  # OTLP counts from SPAN_KIND_UNSPECIFIED = 0
        "startTimeUnixNano": str(span.start_time),
        "endTimeUnixNano": str(span.end_time),
        "attributes": attributes(span.attributes),
        "status": _status(span),
        "flags": _flags(parent),
    }
    if parent is not None:
        encoded["parentSpanId"] = f"{parent.span_id:016x}"
    if context.trace_state:
        encoded["traceState"] = ",".join(f"{k}={v}" for k, v in context.trace_state.items())
    _add_rare(encoded, span)
    return encoded


def _add_rare(encoded: JsonObject, span: ReadableSpan) -> None:
    """Events, links and dropped counts: absent from echoscope's server spans, kept when set."""
    if span.events:
        encoded["events"] = [_event(event) for event in span.events]
    if span.links:
        encoded["links"] = [_link(link) for link in span.links]
    for key, count in (
        ("droppedAttributesCount", span.dropped_attributes),
        ("droppedEventsCount", span.dropped_events),
        ("droppedLinksCount", span.dropped_links),
    ):
        if count:
            encoded[key] = count


def _status(span: ReadableSpan) -> JsonObject:
    status: JsonObject = {}
    if span.status.status_code.value:
        status["code"] = span.status.status_code.value
    if span.status.description:
        status["message"] = span.status.description
    return status


def _flags(parent: SpanContext | None) -> int:
    return (
        _HAS_IS_REMOTE | _IS_REMOTE if parent is not None and parent.is_remote else _HAS_IS_REMOTE
    )


def _event(event: Event) -> JsonObject:
    encoded: JsonObject = {
        "name": event.name,
        "timeUnixNano": str(event.timestamp),
        "attributes": attributes(event.attributes),
    }
    if event.dropped_attributes:
        encoded["droppedAttributesCount"] = event.dropped_attributes
    return encoded


def _link(link: Link) -> JsonObject:
    encoded: JsonObject = {
        "traceId": f"{link.context.trace_id:032x}",
        "spanId": f"{link.context.span_id:016x}",
        "attributes": attributes(link.attributes),
        "flags": _flags(link.context),
    }
    if link.dropped_attributes:
        encoded["droppedAttributesCount"] = link.dropped_attributes
    return encoded


def attributes(values: Mapping[str, Any] | None) -> list[JsonObject]:
    """OTLP KeyValue list: [{"key": k, "value": AnyValue}, ...]."""
    # Strings are most attributes: the type test inline saves a call for each.
    return [
        {"key": key, "value": {"stringValue": item} if type(item) is str else value(item)}
        for key, item in (values or {}).items()
    ]


def value(item: Any) -> JsonObject:
    """An OTLP AnyValue: the same type choice as the SDK's protobuf encoder."""
    if isinstance(item, str):
        return {"stringValue": item}
    if isinstance(item, bool):
        return {"boolValue": item}
    if isinstance(item, int):
        return {"intValue": str(item)}
    if isinstance(item, float):
        return {"doubleValue": _NOT_FINITE.get(item, "NaN" if item != item else item)}
    if isinstance(item, bytes):
        return {"bytesValue": base64.b64encode(item).decode("ascii")}
    if isinstance(item, Sequence):
        return {"arrayValue": {"values": [value(v) for v in item]}}
    if isinstance(item, Mapping):
        return {"kvlistValue": {"values": attributes({str(k): v for k, v in item.items()})}}
    return {}
