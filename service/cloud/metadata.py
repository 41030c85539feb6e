"""Google Cloud facts: the project id behind `logging.googleapis.com/trace`."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
_METADATA_PATH = "/computeMetadata/v1/project/project-id"
_TIMEOUT_SECONDS = 0.8
_FIRST_RETRY_SECONDS = 0.5
_MAX_RETRY_SECONDS = 30.0


def discover_project(
    project: str | None, on_cloud_run: bool, metadata_host: str, deliver: Callable[[str], None]
) -> None:
    """Hand the project id to `deliver`: from the setting, or from the metadata server.

    The metadata server is asked in the background, again with back-off until it
    answers (it may be slow or absent at start-up), then never again.
    """
    if project:
        deliver(project)
    elif on_cloud_run:
        thread = threading.Thread(
            target=_ask_until_answered, args=(metadata_host, deliver), daemon=True
        )
        thread.start()


def _ask_until_answered(host: str, deliver: Callable[[str], None]) -> None:
    retry_until(lambda: ask_metadata_server(host, _METADATA_PATH), deliver)


def retry_until(ask: Callable[[], T | None], deliver: Callable[[T], None]) -> None:
    """Call `ask` until it answers (back-off from 0.5 s doubling to 30 s), then `deliver` it."""
    wait, stop = _FIRST_RETRY_SECONDS, threading.Event()
    while True:
        answer = ask()
        if answer:
            deliver(answer)
            return
        stop.wait(wait)
        wait = min(wait * 2, _MAX_RETRY_SECONDS)


def ask_metadata_server(host: str, path: str, timeout: float = _TIMEOUT_SECONDS) -> str | None:
    """One metadata value as text, or None when the server does not answer with one."""
    request = urllib.request.Request(f"http://{host}{path}", headers={"Metadata-Flavor": "Google"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.read(4096).decode("ascii", "replace").strip() or None
    except OSError:
        return None
