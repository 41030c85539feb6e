"""Request inspection: /get, /head, /post, /put, /patch, /delete, /headers, /ip, /uuid …"""

from __future__ import annotations

import socket
import uuid

from flask import Flask, Response, request

from service.exchange.routing import READ, add_strict_rule
from service.httpbin import shape
from service.settings import Settings


def init_app(app: Flask, settings: Settings) -> None:
    """Register the request-inspection endpoints, each for psf/httpbin's methods only."""
    views = _Views(settings.max_body_bytes, socket.gethostname())
    add_strict_rule(app, "/get", "httpbin_get", views.get, READ)
    add_strict_rule(app, "/head", "httpbin_head", views.get, ("HEAD",))  # go-httpbin's
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        name = method.lower()
        add_strict_rule(app, f"/{name}", f"httpbin_{name}", views.with_body, (method,))
    add_strict_rule(app, "/headers", "httpbin_headers", views.headers, READ)
    add_strict_rule(app, "/ip", "httpbin_ip", views.ip, READ)
    add_strict_rule(app, "/user-agent", "httpbin_user_agent", views.user_agent, READ)
    add_strict_rule(app, "/uuid", "httpbin_uuid", views.uuid4, READ)
    add_strict_rule(app, "/hostname", "httpbin_hostname", views.hostname, READ)


class _Views:
    """The views, holding the body limit every record capture obeys."""

    def __init__(self, max_body_bytes: int, hostname: str) -> None:
        self._limit = max_body_bytes
        # The container's hostname (a Kubernetes pod's name) tells load-balanced replicas apart.
        self._hostname = hostname

    def get(self) -> Response:
        return shape.json_response(shape.request_part(shape.record(self._limit)))

    def with_body(self) -> Response:
        return shape.json_response(shape.body_part(shape.record(self._limit)))

    def headers(self) -> Response:
        return shape.json_response({"headers": shape.record(self._limit)["headers"]})

    def ip(self) -> Response:
        origin = shape.record(self._limit)["client_ip"] or ""
        if request.args.get("format") == "text":  # go-httpbin's plain form
            return shape.text_response(origin + "\n")
        return shape.json_response({"origin": origin})

    def user_agent(self) -> Response:
        agent = shape.record(self._limit)["headers"].get("User-Agent")
        return shape.json_response({"user-agent": agent})

    def uuid4(self) -> Response:
        shape.record(self._limit)
        return shape.json_response({"uuid": str(uuid.uuid4())})

    def hostname(self) -> Response:
        shape.record(self._limit)
        return shape.json_response({"hostname": self._hostname})
