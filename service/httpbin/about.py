"""What is answering: go-httpbin's /env (the ECHO_ENV_* variables only) and /version."""

from __future__ import annotations

import platform
from typing import Any

from flask import Flask, Response

from service import __version__
from service.exchange.routing import READ, add_strict_rule
from service.httpbin import shape
from service.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    """Register /env and /version."""
    views = _Views(settings)
    add_strict_rule(app, "/env", "httpbin_env", views.env, READ)
    add_strict_rule(app, "/version", "httpbin_version", views.version, READ)


class _Views:
    """The views, holding the allow-listed variables and the build facts (fixed per process)."""

    def __init__(self, settings: Settings) -> None:
        self._limit = settings.max_body_bytes
        self._env = dict(settings.env_vars)
        self._version: dict[str, Any] = {
            "service": "echoscope",
            "version": __version__,
            "python_version": platform.python_version(),
        }
        if settings.k_revision:
            self._version["revision"] = settings.k_revision

    def env(self) -> Response:
        shape.record(self._limit)
        return shape.json_response({"env": self._env})

    def version(self) -> Response:
        shape.record(self._limit)
        return shape.json_response(self._version)
