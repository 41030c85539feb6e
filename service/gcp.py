"""Google Cloud facts: the project id behind `logging.googleapis.com/trace`."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable

_METADATA_PATH = "/computeMetadata/v1/project/project-id"
_TIMEOUT_SECONDS = 0.8


def discover_project(
    project: str | None, on_cloud_run: bool, metadata_host: str, deliver: Callable[[str], None]
) -> None:
    """Hand the project id to `deliver`: from the setting, or asked once, in the background."""
    if project:
        deliver(project)
    elif on_cloud_run:
        thread = threading.Thread(
            target=_ask_metadata_server, args=(metadata_host, deliver), daemon=True
        )
        thread.start()


def _ask_metadata_server(host: str, deliver: Callable[[str], None]) -> None:
    request = urllib.request.Request(
        f"http://{host}{_METADATA_PATH}", headers={"Metadata-Flavor": "Google"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=_TIMEOUT_SECONDS) as response:
            project = response.read(256).decode("ascii", "replace").strip()
    except OSError:
        return  # no metadata server: lines keep the bare trace id
    if project:
        deliver(project)
