"""The optional TLS listener: gunicorn's certfile/keyfile, client certificates, ALPN, refusals.

Off unless ECHO_TLS_CERT_FILE and ECHO_TLS_KEY_FILE are set (Cloud Run ends TLS
itself). ALPN offers `http/1.1`, and `h2` first whenever gunicorn serves HTTP/2
(its own `http_protocols`). A client that speaks plain HTTP to the TLS port gets
a plain-text JSON 400 saying so, the way nginx answers one, instead of a closed
connection. No Flask here: gunicorn's master loads it.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from typing import Any

import orjson

from service.settings import Settings

_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "require": ssl.CERT_REQUIRED}
_PLAIN_HTTP = "HTTP_REQUEST"  # OpenSSL's reason when a TLS port receives an HTTP request


def options(settings: Settings) -> dict[str, Any]:
    """gunicorn's settings for the TLS listener (none when it is off)."""
    if not settings.tls:
        return {}
    return {
        "certfile": settings.tls_cert_file,
        "keyfile": settings.tls_key_file,
        "ca_certs": settings.tls_client_ca_file,
        "cert_reqs": _CERT_REQS[settings.tls_client_cert],
        "ssl_context": ssl_context,
    }


def ssl_context(conf: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """gunicorn's context (certificates, client verification, `h2` when served), with ALPN
    offering http/1.1 even when gunicorn, serving HTTP/1.1 only, would offer nothing."""
    context = default()
    if "h2" not in getattr(conf, "http_protocols", ()):
        context.set_alpn_protocols(["http/1.1"])
    return context


def is_plain_http(error: BaseException) -> bool:
    """True when a TLS handshake failed because the client sent plain HTTP."""
    return isinstance(error, ssl.SSLError) and error.reason == _PLAIN_HTTP


def refuse_plain_http(client: Any) -> None:
    """Write a cleartext JSON 400 on the socket whose TLS handshake found plain HTTP."""
    body = orjson.dumps(
        {
            "error": "Bad Request",
            "status": 400,
            "detail": "this port speaks HTTPS: send the request with https://",
        }
    )
    head = (
        "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"X-Content-Type-Options: nosniff\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    os.write(client.fileno(), head.encode("ascii") + body)  # below TLS: the client speaks none
