"""The built image and containers of it, for `make image-test` (not collected by `make test`)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.image.podman import IMAGE, Container, podman


@pytest.fixture(scope="session")
def image() -> str:
    """The image `make image` built; the session fails at once without it."""
    try:
        podman("image", "exists", IMAGE)
    except AssertionError as missing:
        raise AssertionError(f"no image {IMAGE}: `make image-test` builds it first") from missing
    return IMAGE


@pytest.fixture(scope="session")
def image_root(image: str) -> Iterator[Path]:
    """The image's file system, mounted read-only on the host."""
    path = Path(podman("image", "mount", image).strip())
    yield path
    podman("image", "unmount", image)


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[Container]:
    """The image run as Cloud Run runs it: only PORT set, default settings."""
    running = Container()
    try:
        running.wait_ready()
        yield running
    finally:
        running.remove()


@pytest.fixture(scope="module")
def two_workers(image: str) -> Iterator[Container]:
    """The image with WEB_CONCURRENCY=2."""
    running = Container({"WEB_CONCURRENCY": "2"})
    try:
        running.wait_ready()
        yield running
    finally:
        running.remove()
