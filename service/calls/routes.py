"""`/call`: registered always; a JSON 404 while ECHO_CALL_TARGETS is empty.

The client behind it (httpx, httpcore and OpenTelemetry's httpx instrumentation,
~125 ms of imports) is loaded only when there are targets: service.calls.endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from flask import Flask, Response
from werkzeug.exceptions import NotFound

from service.calls.hops import LoopDetected, hop_count
from service.exchange.routing import add_any_method_rule
from service.settings import Settings

if TYPE_CHECKING:
    from service.calls.fanout import Caller
    from service.calls.targets import Targets

Outbound: TypeAlias = "tuple[Caller, Targets]"  # the checked client and its allow-list
__all__ = ["LoopDetected", "Outbound", "hop_count", "init_app", "outbound_of"]


def init_app(app: Flask, settings: Settings, outbound: Outbound | None) -> None:
    """Register /call (a JSON 404 while ECHO_CALL_TARGETS is empty)."""
    if outbound is None:
        add_any_method_rule(app, "/call", "call", _off)
        return
    from service.calls import endpoint  # httpx: only when /call is on

    add_any_method_rule(app, "/call", "call", endpoint.view(settings, outbound))


def outbound_of(app: Flask, settings: Settings) -> Outbound | None:
    """The client /call (and the inspector's replay) sends with; None without targets."""
    if not settings.call_targets:
        return None
    from service.calls import endpoint  # httpx: only when /call is on

    return endpoint.outbound_of(app, settings)


def _off(**_: str) -> Response:
    raise NotFound("/call is off: ECHO_CALL_TARGETS is empty.")
