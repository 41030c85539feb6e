"""Real gunicorn servers for the integration tests, each stopped by the fixture that started it."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.support.otlp import OtlpReceiver
from tests.support.server import Server

MakeServer = Callable[..., Server]


@contextmanager
def _servers() -> Iterator[MakeServer]:
    """make(env, workers[, app]): echoscope on a free port, ready; all it started stopped on exit."""
    started: list[Server] = []

    def make(
        env: dict[str, str] | None = None,
        workers: int = 1,
        ca: str | None = None,
        client: tuple[str, str] | None = None,
        app: str = "service.wsgi:app",
    ) -> Server:
        server = Server(env or {}, workers, ca, client, app)
        started.append(server)  # before waiting: a server that never gets ready is stopped too
        server.wait_ready()
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    """Start servers for one test; each is stopped when the test ends."""
    with _servers() as make:
        yield make


@pytest.fixture(scope="module")
def make_module_server(receiver: OtlpReceiver) -> Iterator[MakeServer]:
    """Start servers shared by a module's tests; each is stopped when the module ends."""
    # Set up after the module's receiver, so torn down before it: a stopping server's
    # last spans still find the receiver, as when each fixture stopped its own server.
    with _servers() as make:
        yield make


@pytest.fixture(scope="session")
def make_session_server() -> Iterator[MakeServer]:
    """Start servers shared by the whole session; each is stopped when the session ends."""
    with _servers() as make:
        yield make


@pytest.fixture(scope="session")
def server(make_session_server: MakeServer) -> Server:
    """echoscope with default settings and one worker, for the whole session."""
    return make_session_server()


@pytest.fixture(scope="session")
def httpbin(make_session_server: MakeServer) -> Server:
    """echoscope for the httpbin tests: 2 s of delay at most, one host /redirect-to may name."""
    return make_session_server(
        {"ECHO_MAX_DELAY_SECONDS": "2", "ECHO_REDIRECT_HOSTS": "allowed.example"}
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver on 127.0.0.1, for one test module."""
    running = OtlpReceiver()
    yield running
    running.close()
