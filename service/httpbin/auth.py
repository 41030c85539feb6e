"""Basic and bearer authentication: /basic-auth, /hidden-basic-auth, /bearer."""

from __future__ import annotations

import hmac

from flask import Flask, Response, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import NotFound, Unauthorized

from service.exchange.routing import READ, add_strict_rule
from service.httpbin import shape
from service.settings import Settings

REALM = "Fake Realm"  # httpbin's, which clients' tests look for


def init_app(app: Flask, settings: Settings) -> None:
    """Register the basic and bearer authentication endpoints."""
    views = _Views(settings.max_body_bytes)
    add_strict_rule(app, "/basic-auth/<user>/<passwd>", "httpbin_basic_auth", views.basic, READ)
    add_strict_rule(
        app, "/hidden-basic-auth/<user>/<passwd>", "httpbin_hidden_basic_auth", views.hidden, READ
    )
    add_strict_rule(app, "/bearer", "httpbin_bearer", views.bearer, READ)


def authenticated(user: str) -> Response:
    """The success answer of every auth endpoint (psf's fields, go-httpbin's `authorized`)."""
    return shape.json_response({"authenticated": True, "authorized": True, "user": user})


class _Views:
    """The views, holding the body limit."""

    def __init__(self, max_body_bytes: int) -> None:
        self._limit = max_body_bytes

    def basic(self, user: str, passwd: str) -> Response:
        shape.record(self._limit)
        if not _basic_matches(user, passwd):
            challenge = WWWAuthenticate("basic", {"realm": REALM})
            raise Unauthorized(
                "Basic credentials are missing or wrong.", www_authenticate=challenge
            )
        return authenticated(user)

    def hidden(self, user: str, passwd: str) -> Response:
        shape.record(self._limit)
        if not _basic_matches(user, passwd):
            raise NotFound()  # hidden: no challenge, as if nothing were here
        return authenticated(user)

    def bearer(self) -> Response:
        shape.record(self._limit)
        fields = request.headers.get("Authorization", "").split()
        if len(fields) != 2 or fields[0] != "Bearer":
            raise Unauthorized(
                "A bearer token is missing.", www_authenticate=WWWAuthenticate("Bearer")
            )
        return shape.json_response({"authenticated": True, "token": fields[1]})


def _basic_matches(user: str, passwd: str) -> bool:
    given = request.authorization
    if given is None or given.type != "basic":
        return False
    same_user = hmac.compare_digest(str(given.username or "").encode(), user.encode())
    same_password = hmac.compare_digest(str(given.password or "").encode(), passwd.encode())
    return same_user and same_password
