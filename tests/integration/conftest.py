"""A real gunicorn for the integration tests."""

from collections.abc import Iterator

import pytest

from tests.support.server import Server, start_server


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """echoscope with default settings and one worker, for the whole session."""
    running = start_server()
    yield running
    running.stop()
