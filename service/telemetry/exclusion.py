"""The paths of ECHO_EXCLUDE_PATHS (/health, /metrics) make no span, without a URL check.

Given URL patterns, the Flask instrumentation would build each request's full URL
and search it with the patterns twice per request (before and after the view),
whatever the path. Instead it gets none: the sampler drops the span of a request
service.exchange.excluded decided is excluded, and asks the configured sampler
about every other.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from service.exchange import excluded

_DROP = SamplingResult(Decision.DROP)


class ExcludedPathSampler(Sampler):
    """Drops the server span of an excluded path; `inner` decides for every other span."""

    def __init__(self, inner: Sampler) -> None:
        self._inner = inner

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        """DROP for the server span of an excluded path, else what `inner` says."""
        if kind is SpanKind.SERVER and excluded.current():
            return _DROP
        return self._inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        """`inner`'s description, noted as wrapped."""
        return f"ExcludedPaths{{{self._inner.get_description()}}}"
