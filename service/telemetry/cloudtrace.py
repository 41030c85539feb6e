"""X-Cloud-Trace-Context, read the way Google's own libraries read it.

The OpenTelemetry GCP propagator accepts only `TRACE/SPAN;o=N`; Google's
libraries also accept `TRACE;o=1`, `TRACE/0;o=1` and a bare `TRACE`. For those
the trace is continued under a stand-in parent span id (the caller named no
span), so the server span still belongs to the caller's trace.
"""

from __future__ import annotations

import random

from opentelemetry import trace
from opentelemetry.context.context import Context
from opentelemetry.propagators import textmap
from opentelemetry.propagators.cloud_trace_propagator import CloudTraceFormatPropagator
from opentelemetry.trace.span import SpanContext, TraceFlags

from service.telemetry import traceheaders

_HEADER = "x-cloud-trace-context"


class LenientCloudTracePropagator(CloudTraceFormatPropagator):
    """The GCP propagator, plus the header forms without a usable span id.

    The header is read by the one X-Cloud-Trace-Context grammar
    (service.telemetry.traceheaders), which the record's `trace_context` shows too.
    """

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        values = getter.get(carrier, _HEADER)
        parsed = traceheaders.cloud_trace(values[0].strip()) if values else None
        if parsed is None or not parsed["valid"]:
            return context if context is not None else Context()
        span_id = parsed["span_id"]
        flags = TraceFlags(TraceFlags.SAMPLED if parsed["sampled"] else TraceFlags.DEFAULT)
        parent = SpanContext(
            int(parsed["trace_id"], 16),
            int(span_id, 16) if span_id else random.getrandbits(64) or 1,  # a stand-in parent
            is_remote=True,
            trace_flags=flags,
        )
        return trace.set_span_in_context(trace.NonRecordingSpan(parent), context)
