"""One cold start, line by line, in this interpreter: `python -m bench.startlines TARGET`.

bench.startprofile runs it in a fresh interpreter of the target's own environment, from the
project root, with the target's environment variables, and times the interpreter from exec
to exit around it. Each line runs what the target's start runs, in the order gunicorn runs
it (the master's imports and config, then the worker's app and its first answer), and
counts what it adds on top of the lines before it: a module a later line also needs is
counted where it is first imported. It prints {line: seconds} as JSON and leaves at once
(os._exit: no exporter flushed at exit, as a worker that keeps running flushes none then).

TARGET is echoscope-full, floor-start or httpbin.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import json
import os
import runpy
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

GUNICORN = "gunicorn: its runner, arbiter, logger and gthread worker"
# What every gunicorn start imports before it serves (the logger class at the arbiter's
# set-up); stock gthread also starts its thread pool (echoscope's worker hands over without).
GUNICORN_MODULES = ("gunicorn.app.wsgiapp", "gunicorn.arbiter", "gunicorn.glogging")
GTHREAD_MODULES = ("gunicorn.workers.gthread",)
STOCK_GTHREAD_MODULES = (*GTHREAD_MODULES, "concurrent.futures.thread")
FLASK = "Flask (werkzeug, Jinja, click)"
# The libraries echoscope's design names, as the floor imports them.
LIBRARIES = (
    ("OpenTelemetry SDK (tracing)", "opentelemetry.sdk.trace"),
    ("opentelemetry-instrumentation-flask", "opentelemetry.instrumentation.flask"),
    ("prometheus-client", "prometheus_client"),
    ("structlog", "structlog"),
)
CONFIG = "echoscope's config file: settings, server, TLS and logging modules"
APP_MODULES = "echoscope's app modules (import service.app)"
RULES = "create_app: its URL rules (werkzeug parses each, compiles two URL builders)"
CREATE_REST = "create_app: the rest (providers, instrumentation, hooks, routes' views)"
FLOOR_APP = "the floor's app: one route, a tracer provider, FlaskInstrumentor, a counter"
HTTPBIN_APP = "httpbin's module and app (its optional flasgger is not installed)"
FIRST = "the first answer, in process"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Lines:
    """Seconds per line, in the order they ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def line(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - began

    def imports(self, name: str, *modules: str) -> None:
        with self.line(name):
            for module in modules:
                importlib.import_module(module)


class RuleClock:
    """Time spent in werkzeug's Map.add (where each rule is bound and compiled), summed."""

    def __init__(self) -> None:
        from werkzeug.routing import Map

        self.seconds = 0.0
        self.rules = 0
        add = Map.add

        def timed(map_: Map, factory: Any) -> None:
            began = time.perf_counter()
            add(map_, factory)
            self.seconds += time.perf_counter() - began
            self.rules += 1

        Map.add = timed  # type: ignore[method-assign,assignment]


def first_answer(app: WSGIApp, path: str) -> None:
    """One GET through the WSGI callable, as gunicorn would hand it over; must be a 200.

    The environ is written out here: werkzeug.test's builder would add its own import to
    the line, which no server start makes."""
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8080", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "40000",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }  # fmt: skip
    statuses: list[str] = []
    chunks = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(chunks)
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    if not statuses or not statuses[0].startswith("200"):
        raise SystemExit(f"GET {path} answered {statuses[:1]}, not 200")


def _libraries(lines: Lines, gthread: tuple[str, ...]) -> None:
    lines.imports(GUNICORN, *GUNICORN_MODULES, *gthread)
    lines.imports(FLASK, "flask")
    for name, module in LIBRARIES:
        lines.imports(name, module)


def echoscope(lines: Lines) -> None:
    """config/gunicorn.conf.py as gunicorn's master runs it, then what a worker runs."""
    gc.disable()  # the config file's first statement; the worker enables it once ready
    _libraries(lines, GTHREAD_MODULES)
    with lines.line(CONFIG):
        runpy.run_path("config/gunicorn.conf.py", run_name="gunicorn_config")
    with lines.line(APP_MODULES):
        from service.app import create_app
        from service.settings import Settings
    clock = RuleClock()
    with lines.line(CREATE_REST):
        app = create_app(Settings.from_env(os.environ))
    lines.seconds[RULES] = clock.seconds
    lines.seconds[CREATE_REST] -= clock.seconds
    with lines.line(FIRST):
        first_answer(app, "/health")


def floor(lines: Lines) -> None:
    """bench.peers.floorstart, as stock gunicorn's worker imports it."""
    _libraries(lines, STOCK_GTHREAD_MODULES)
    with lines.line(FLOOR_APP):
        app = importlib.import_module("bench.peers.floorstart").app
    with lines.line(FIRST):
        first_answer(app, "/anything")


def httpbin(lines: Lines) -> None:
    """httpbin:app, as stock gunicorn's worker imports it."""
    lines.imports(GUNICORN, *GUNICORN_MODULES, *STOCK_GTHREAD_MODULES)
    lines.imports(FLASK, "flask")
    with lines.line(HTTPBIN_APP):
        app = importlib.import_module("httpbin").app
    with lines.line(FIRST):
        first_answer(app, "/get")


TARGETS: dict[str, Callable[[Lines], None]] = {
    "echoscope-full": echoscope,
    "floor-start": floor,
    "httpbin": httpbin,
}


def main(argv: list[str]) -> None:
    lines = Lines()
    TARGETS[argv[0]](lines)
    sys.stdout.write(json.dumps(lines.seconds) + "\n")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
