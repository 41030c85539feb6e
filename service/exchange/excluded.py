"""Whether the request is on a path of ECHO_EXCLUDE_PATHS (/health, /metrics): decided once.

A WSGI wrapper in front of the app looks PATH_INFO up in the set, before any hook
runs; the exchange (no log line, no trace ids, no history) and the span sampler
(no span: service.telemetry.exclusion) both read that one decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

_excluded: ContextVar[bool] = ContextVar("echoscope_excluded_path", default=False)
WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def marking(wsgi_app: WsgiApp, paths: Iterable[str], entering: Callable[[], None]) -> WsgiApp:
    """`wsgi_app`, noting whether each request's path is excluded; `entering()` runs first."""
    excluded = frozenset(paths)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        entering()
        token = _excluded.set(environ.get("PATH_INFO", "") in excluded)
        try:
            return wsgi_app(environ, start_response)
        finally:
            _excluded.reset(token)

    return app


def current() -> bool:
    """True while a request on an excluded path is being served."""
    return _excluded.get()
