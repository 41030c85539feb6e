"""Propagation forensics: what trace context arrived, and what a downstream made of ours.

`describe` is the record's `trace_context`: every trace header that arrived,
parsed and checked, which one echoscope continued (as the configured
propagators extract it) and whether the formats agree. `verdict` compares the
trace headers a call sent with what an echoscope downstream reports receiving.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)

from service.exchange.traceids import TraceIds
from service.telemetry import traceheaders

PROPAGATED = "propagated"
PARENT_CHANGED = "parent_changed"
SAMPLED_CHANGED = "sampled_changed"
TRACE_CHANGED = "trace_changed"
DROPPED = "dropped"
UNKNOWN = "unknown"

_SINGLE = {
    "traceparent": traceheaders.traceparent,
    "tracestate": traceheaders.tracestate,
    "x-cloud-trace-context": traceheaders.cloud_trace,
    "baggage": traceheaders.baggage,
    "b3": traceheaders.b3_single,
}
_CONTEXT_FORMATS = ("traceparent", "x-cloud-trace-context", "b3", "x-b3")
_NAMES = frozenset((*_SINGLE, "x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags"))
# The names as werkzeug titles a header ("X-B3-Traceid") -> as `describe` selects them.
TITLED_NAMES = {name.title(): name for name in _NAMES}


# What the configured propagators last extracted in this thread, and from which carrier.
_extracted: ContextVar[tuple[object, Context] | None] = ContextVar(
    "echoscope_extracted", default=None
)


class Remembering(TextMapPropagator):
    """The configured propagators, remembering what they extract from a request (the tracing
    instrumentation extracts once per request) so the record's `continued` reuses it."""

    def __init__(self, inner: TextMapPropagator) -> None:
        self._inner = inner

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        """What `inner` extracts, remembered with its carrier."""
        extracted = self._inner.extract(carrier, context, getter)
        _extracted.set((carrier, extracted))
        return extracted

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        """What `inner` injects."""
        self._inner.inject(carrier, context, setter)

    @property
    def fields(self) -> set[str]:
        """`inner`'s fields."""
        return self._inner.fields


def describe(
    headers: Mapping[str, str], trace_ids: TraceIds | None, carrier: object = None
) -> dict[str, Any]:
    """The record's `trace_context`: each trace header parsed, the one continued, agreement.

    `carrier` is what the request's headers were extracted from (its WSGI environ): when the
    propagators extracted from it already, their answer is reused instead of asked again."""
    arrived = {key.lower(): value for key, value in headers.items() if key.lower() in _NAMES}
    return described(arrived, trace_ids, carrier)


def described(
    arrived: dict[str, str], trace_ids: TraceIds | None, carrier: object = None
) -> dict[str, Any]:
    """`describe` of the trace headers already selected: lowercase name -> value, in the
    order they arrived (what `describe` selects from the headers)."""
    if not arrived:
        return {"headers": {}, "continued": None, "agree": _agreement({})}
    if len(arrived) == 1 and "traceparent" in arrived:  # the common case, in short
        only = traceheaders.traceparent(arrived["traceparent"])
        parsed = {"traceparent": only}
        contexts = parsed if only["valid"] is True else {}
    else:
        parsed = {
            name: parse(value) for name, value in arrived.items() if (parse := _SINGLE.get(name))
        }
        if any(name.startswith("x-b3-") for name in arrived):
            parsed["x-b3"] = traceheaders.b3_multi(arrived)
        contexts = {name: parsed[name] for name in _CONTEXT_FORMATS if _valid(parsed.get(name))}
    return {
        "headers": parsed,
        "continued": _continued(arrived, contexts, carrier) if trace_ids else None,
        "agree": _agreement(contexts),
    }


def received(trace_context: Any) -> dict[str, Any] | None:
    """The context a downstream's `trace_context` says arrived: traceparent first, else Cloud's."""
    if not isinstance(trace_context, dict) or not isinstance(trace_context.get("headers"), dict):
        return None
    for name in ("traceparent", "x-cloud-trace-context"):
        parsed = trace_context["headers"].get(name)
        if _usable(parsed):
            return dict(parsed)
    return {}


def verdict(sent: Mapping[str, str], downstream: Any) -> str:
    """Compare the trace headers sent with what an echoscope downstream says it received."""
    ours = _sent_context(sent)
    theirs = received(downstream.get("trace_context") if isinstance(downstream, dict) else None)
    if ours is None or theirs is None:
        return UNKNOWN
    if not theirs:
        return DROPPED
    if theirs["trace_id"] != ours["trace_id"]:
        return TRACE_CHANGED
    if theirs["span_id"] != ours["span_id"]:
        return PARENT_CHANGED
    if theirs["sampled"] is not None and theirs["sampled"] != ours["sampled"]:
        return SAMPLED_CHANGED
    return PROPAGATED


def _sent_context(sent: Mapping[str, str]) -> dict[str, Any] | None:
    lowered = {key.lower(): value for key, value in sent.items()}
    for name in ("traceparent", "x-cloud-trace-context"):
        if name in lowered:
            parsed = _SINGLE[name](lowered[name])
            if parsed["valid"]:
                return parsed
    return None


def _valid(parsed: Any) -> bool:
    return isinstance(parsed, dict) and parsed.get("valid") is True


def _usable(parsed: Any) -> bool:
    return _valid(parsed) and bool(parsed.get("trace_id"))


def _continued(arrived: dict[str, str], contexts: dict[str, Any], carrier: object) -> str | None:
    # The configured propagators decide; the header whose ids they extracted is the one
    # continued (traceparent is named when both carry the same ids).
    remembered = _extracted.get()
    if remembered is not None and carrier is not None and remembered[0] is carrier:
        context = remembered[1]
    else:
        context = propagate.extract(arrived)
    span_context = trace.get_current_span(context).get_span_context()
    if not span_context.is_valid:
        return None
    extracted = (format(span_context.trace_id, "032x"), format(span_context.span_id, "016x"))
    matching = [
        name
        for name in ("x-cloud-trace-context", "traceparent")
        if name in contexts and _carries(contexts[name], extracted)
    ]
    return matching[-1] if matching else None


def _carries(parsed: dict[str, Any], extracted: tuple[str, str]) -> bool:
    # A header without a span id is continued under a stand-in parent: its trace decides.
    span_id = parsed["span_id"] or extracted[1]
    return (parsed["trace_id"], span_id) == extracted


def _agreement(contexts: dict[str, Any]) -> dict[str, bool | None]:
    if len(contexts) < 2:  # nothing to compare: every field counted at most once
        return {"trace_id": None, "span_id": None, "sampled": None}

    def agree(field: str) -> bool | None:
        values = {parsed[field] for parsed in contexts.values() if parsed.get(field) is not None}
        counted = sum(1 for parsed in contexts.values() if parsed.get(field) is not None)
        return None if counted < 2 else len(values) == 1

    return {"trace_id": agree("trace_id"), "span_id": agree("span_id"), "sampled": agree("sampled")}
