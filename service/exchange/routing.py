"""Routes and their bounded names: the rule template and the method as telemetry labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, Request, Response, request
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.routing import PathConverter

UNMATCHED = ""  # no rule matched: no `http.route` at all, as the conventions say
OTHER_METHOD = "_OTHER"
KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)


class AnyPathConverter(PathConverter):
    """werkzeug's `path`, matching line breaks too (`/a%0Ab` must echo, not 404)."""

    regex = r"[^/][\s\S]*?"


def use_any_path(app: Flask) -> None:
    """Make `<path:...>` rules match every path, line breaks included."""
    app.url_map.converters["path"] = AnyPathConverter


def answer_options(app: Flask) -> None:
    """Give every 2xx answer to OPTIONS an `Allow` naming the route's methods (never a 405)."""
    app.after_request(_add_allow)


def options_response(methods: tuple[str, ...] | list[str]) -> Response:
    """The 200 answering OPTIONS on a route that serves only `methods`."""
    return Response(status=200, headers={"Allow": ", ".join(dict.fromkeys([*methods, "OPTIONS"]))})


def _add_allow(response: Response) -> Response:
    ok = 200 <= response.status_code < 300
    if request.method == "OPTIONS" and ok and "Allow" not in response.headers:
        rule = request.url_rule
        methods = rule.methods if rule is not None and rule.methods else KNOWN_METHODS
        response.headers["Allow"] = ", ".join(sorted(methods))
    return response


def add_any_method_rule(app: Flask, rule: str, endpoint: str, view: Callable[..., Any]) -> None:
    """Route every method, known or not, to `view` (Flask's decorator needs a method list)."""
    app.url_map.add(app.url_rule_class(rule, endpoint=endpoint, methods=None))
    app.view_functions[endpoint] = view


READ = ("GET", "HEAD")  # the methods of a route that only reads: HEAD answers as GET does


def add_strict_rule(
    app: Flask, rule: str, endpoint: str, view: Callable[..., Any], methods: tuple[str, ...]
) -> None:
    """Route `rule` for every method, answering 405 (with Allow) for those not in `methods`,
    and OPTIONS with 200 and Allow.

    Without this the catch-all echo would answer `POST /health` with 200.
    """

    def strict(**values: Any) -> Any:
        if request.method not in methods:
            if request.method == "OPTIONS":
                return options_response(methods)
            raise MethodNotAllowed(valid_methods=list(methods))
        return view(**values)

    add_any_method_rule(app, rule, endpoint, strict)


def route_of(req: Request) -> str:
    """The rule template that matched (`/status/<code>`), never the raw path."""
    rule = req.url_rule
    return rule.rule if rule is not None else UNMATCHED


def method_of(req: Request) -> str:
    """The request method, or `_OTHER` when it is not a standard one."""
    method = req.method
    return method if method in KNOWN_METHODS else OTHER_METHOD


def span_name(method: str, route: str) -> str:
    """`{METHOD} {route}`, `{METHOD}` with no route, and `HTTP` for a method outside the list."""
    name = "HTTP" if method == OTHER_METHOD else method
    return f"{name} {route}" if route else name
