"""X-Cloud-Trace-Context, read the way Google's own libraries read it.

The OpenTelemetry GCP propagator accepts only `TRACE/SPAN;o=N`; Google's
libraries also accept `TRACE;o=1`, `TRACE/0;o=1` and a bare `TRACE`. For those
the trace is continued under a stand-in parent span id (the caller named no
span), so the server span still belongs to the caller's trace.
"""

from __future__ import annotations

import random
import re

from opentelemetry import trace
from opentelemetry.context.context import Context
from opentelemetry.propagators import textmap
from opentelemetry.propagators.cloud_trace_propagator import CloudTraceFormatPropagator
from opentelemetry.trace.span import SpanContext, TraceFlags

_HEADER = re.compile(r"(?P<trace>[0-9a-fA-F]{32})(?:/(?P<span>\d{0,20}))?(?:;o=(?P<flags>\d+))?")
_MAX_SPAN_ID = 2**64 - 1


class LenientCloudTracePropagator(CloudTraceFormatPropagator):
    """The GCP propagator, plus the header forms without a usable span id."""

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        header = self._get_header_value(getter, carrier)
        match = _HEADER.fullmatch(header.strip()) if header else None
        if match is None or int(match["trace"], 16) == 0:
            return context if context is not None else Context()
        span_text = match["span"] or "0"
        span_id = int(span_text)
        if not 0 < span_id <= _MAX_SPAN_ID:
            span_id = random.getrandbits(64) or 1  # no span named: a stand-in parent
        flags = TraceFlags(TraceFlags.SAMPLED if match["flags"] == "1" else TraceFlags.DEFAULT)
        parent = SpanContext(int(match["trace"], 16), span_id, is_remote=True, trace_flags=flags)
        return trace.set_span_in_context(trace.NonRecordingSpan(parent), context)
