"""/health: the liveness and startup probe (no path ending in z: Cloud Run reserves them)."""

from __future__ import annotations

from flask import Flask, Response

from service.exchange.routing import READ, add_strict_rule
from service.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    """Register GET /health."""
    add_strict_rule(app, "/health", "health", _health, READ)


def _health() -> Response:
    return Response(b'{"status":"ok"}\n', mimetype="application/json")
