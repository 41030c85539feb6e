"""A real gunicorn for the integration tests."""

from collections.abc import Iterator

import pytest

from tests.support.otlp import OtlpReceiver
from tests.support.server import Server, start_server


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """echoscope with default settings and one worker, for the whole session."""
    running = start_server()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver on 127.0.0.1, for one test module."""
    running = OtlpReceiver()
    yield running
    running.close()


@pytest.fixture(scope="session")
def httpbin() -> Iterator[Server]:
    """echoscope for the httpbin tests: 2 s of delay at most, one host /redirect-to may name."""
    running = start_server(
        {"ECHO_MAX_DELAY_SECONDS": "2", "ECHO_REDIRECT_HOSTS": "allowed.example"}
    )
    yield running
    running.stop()
