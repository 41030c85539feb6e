"""/openapi.json: the OpenAPI 3.1 description of echoscope (service/openapi.json)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response

from service.exchange.routing import READ, add_strict_rule
from service.settings import Settings

_SPEC = Path(__file__).with_name("openapi.json")


def init_app(app: Flask, settings: Settings) -> None:
    """Serve the shipped OpenAPI document at /openapi.json."""
    body = _SPEC.read_bytes()
    add_strict_rule(
        app,
        "/openapi.json",
        "openapi",
        lambda: Response(body, mimetype="application/json"),
        READ,
    )
