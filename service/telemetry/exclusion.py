"""The paths of ECHO_EXCLUDE_PATHS (/health, /metrics) make no span, without a URL check.

Given URL patterns, the Flask instrumentation would build each request's full URL
and search it with the patterns twice per request (before and after the view),
whatever the path. Instead it gets none: a WSGI wrapper in front of the app notes
whether the path is excluded (one set lookup on PATH_INFO) and the sampler drops
the span of an excluded request, asking the configured sampler about every other.
The exchange of an excluded path carries no trace ids (service.exchange.pipeline).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

_excluded: ContextVar[bool] = ContextVar("echoscope_excluded_path", default=False)
_DROP = SamplingResult(Decision.DROP)
WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def marking(wsgi_app: WsgiApp, paths: Iterable[str]) -> WsgiApp:
    """`wsgi_app`, noting for the sampler whether each request's path is excluded."""
    excluded = frozenset(paths)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        token = _excluded.set(environ.get("PATH_INFO", "") in excluded)
        try:
            return wsgi_app(environ, start_response)
        finally:
            _excluded.reset(token)

    return app


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
        if kind is SpanKind.SERVER and _excluded.get():
            return _DROP
        return self._inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        """`inner`'s description, noted as wrapped."""
        return f"ExcludedPaths{{{self._inner.get_description()}}}"
