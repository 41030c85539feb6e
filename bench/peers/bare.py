"""The ceiling: a bare WSGI callable that echoes method, path and headers with orjson.

Serve with `gunicorn bench.peers.bare:app`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Read the body (as a real server must) and answer with a small JSON record."""
    size = int(environ.get("CONTENT_LENGTH") or 0)
    if size:
        environ["wsgi.input"].read(size)
    headers = {
        key[5:].replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    body = orjson.dumps(
        {
            "method": environ["REQUEST_METHOD"],
            "path": environ.get("PATH_INFO", ""),
            "headers": headers,
            "body_size": size,
        }
    )
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
