"""/health: the liveness and startup probe (no path ending in z: Cloud Run reserves them)."""

from __future__ import annotations

from flask import Flask, Response


def init_app(app: Flask) -> None:
    """Register GET /health."""
    app.add_url_rule("/health", "health", _health, methods=["GET", "HEAD"])


def _health() -> Response:
    return Response(b'{"status":"ok"}', mimetype="application/json")
