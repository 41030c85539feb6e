"""The current span's ids, as the record, log lines, exemplars and `traceresponse` show them.

No Flask here: gunicorn's master renders its own lines with these fields too.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from opentelemetry import trace


@dataclasses.dataclass(frozen=True, slots=True)
class TraceIds:
    """A span's trace id, span id and sampled flag, in lowercase hex."""

    trace_id: str
    span_id: str
    sampled: bool
    flags: int = 0  # the W3C trace flags byte (sampled is its lowest bit)

    @property
    def traceresponse(self) -> str:
        """The W3C Trace Context level 2 `traceresponse` header value."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"

    def as_dict(self) -> dict[str, Any]:
        """The record's `trace` object."""
        return {"trace_id": self.trace_id, "span_id": self.span_id, "sampled": self.sampled}


def current() -> TraceIds | None:
    """Ids of the current span, or None when there is no valid span (excluded paths)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return TraceIds(
        format(context.trace_id, "032x"),
        format(context.span_id, "016x"),
        context.trace_flags.sampled,
        int(context.trace_flags),
    )
