"""create_app attaches the parts in the order their hooks depend on; this holds the order."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from service.app import create_app
from service.settings import Settings


def _modules(hooks: Iterable[Callable[..., Any]]) -> list[str]:
    return [hook.__module__.removeprefix("service.") for hook in hooks]


def test_every_hook_runs_inside_the_server_span_and_after_the_exchange_began() -> None:
    app = create_app(Settings.from_env({"ECHO_INSPECT_TOKEN": "t"}))
    before = _modules(app.before_request_funcs[None])
    # The span first (every later hook and line inside it), then the exchange (its ids and
    # clock), then the instance facts its record's `server` carries.
    assert before[:3] == [
        "opentelemetry.instrumentation.flask",
        "exchange.pipeline",
        "cloud.instance",
    ]
    teardown = _modules(app.teardown_request_funcs[None])
    assert teardown.index("opentelemetry.instrumentation.flask") < teardown.index(
        "exchange.pipeline"
    )  # Flask runs teardowns in reverse: the finishers run while the span is still open


def test_the_finishers_run_span_metrics_line_then_history() -> None:
    app = create_app(Settings.from_env({"ECHO_INSPECT_TOKEN": "t"}))
    finishers = _modules(app.extensions["echoscope.finishers"])
    assert finishers == [
        "telemetry.spans",
        "telemetry.metrics",
        "telemetry.logs",
        "inspector.recorder",
    ]
