"""Routing helpers: any-method rules, strict rules, bounded route and method labels."""

from __future__ import annotations

import pytest
from flask import Flask, request

from service.exchange import routing


@pytest.fixture
def app() -> Flask:
    """A bare Flask app with one any-method rule and one strict rule."""
    app = Flask("routing-test")
    routing.add_any_method_rule(app, "/any/<name>", "any", lambda name: f"any {request.method}")
    routing.add_strict_rule(app, "/strict", "strict", lambda: "strict", ("GET", "HEAD"))
    return app


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PROPFIND", "FOO"])
def test_any_method_rule_takes_every_method(app: Flask, method: str) -> None:
    response = app.test_client().open("/any/x", method=method)
    assert response.status_code == 200
    if method != "HEAD":
        assert response.get_data(as_text=True) == f"any {method}"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_strict_rule_serves_its_methods(app: Flask, method: str) -> None:
    assert app.test_client().open("/strict", method=method).status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "FOO"])
def test_strict_rule_answers_405_with_allow(app: Flask, method: str) -> None:
    response = app.test_client().open("/strict", method=method)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"GET", "HEAD"}


def test_strict_rule_wins_over_a_catch_all() -> None:
    app = Flask("routing-test")
    routing.add_strict_rule(app, "/health", "health", lambda: "ok", ("GET",))
    routing.add_any_method_rule(app, "/<path:path>", "echo", lambda path: "echo")
    assert app.test_client().post("/health").status_code == 405
    assert app.test_client().post("/healthy").get_data(as_text=True) == "echo"


@pytest.mark.parametrize(
    ("path", "route"),
    [("/any/thing", "/any/<name>"), ("/strict", "/strict")],
)
def test_route_of_is_the_rule_template(app: Flask, path: str, route: str) -> None:
    with app.test_request_context(path):
        assert routing.route_of(request) == route


def test_route_of_unmatched_request(app: Flask) -> None:
    with app.test_request_context("/nowhere"):
        assert routing.route_of(request) == routing.UNMATCHED


@pytest.mark.parametrize("method", sorted(routing.KNOWN_METHODS))
def test_method_of_known_method(app: Flask, method: str) -> None:
    with app.test_request_context("/any/x", method=method):
        assert routing.method_of(request) == method


@pytest.mark.parametrize("method", ["FOO", "PROPFIND", "PURGE", "X" * 100])
def test_method_of_unknown_method_is_other(app: Flask, method: str) -> None:
    with app.test_request_context("/any/x", method=method):
        assert routing.method_of(request) == routing.OTHER_METHOD == "_OTHER"
