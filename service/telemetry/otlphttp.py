"""echoscope's OTLP/HTTP sender for the bodies it encodes itself (protobuf spans, JSON).

What the SDK's OTLP/HTTP exporters do with their bodies, through public API only:
POST to the signal's endpoint with its headers and compression, retried with
back-off on 429/502/503/504 and on connection errors, all within the timeout,
and given up at once when the exporter shuts down.
"""

from __future__ import annotations

import email.utils
import gzip
import logging
import random
import threading
import time
import zlib

import urllib3
from opentelemetry.sdk.version import __version__ as _sdk_version

from service import __version__
from service.settings.otlp import OtlpHttp

_RETRYABLE = frozenset({429, 502, 503, 504})
_MAX_ATTEMPTS = 6
_log = logging.getLogger("opentelemetry.exporter.echoscope")  # held to one line per 30 s
# The exporter, its language and version, as the OTLP exporter specification asks, with
# echoscope's own name prepended (the SDK's exporters send OTel-OTLP-Exporter-Python/<version>).
USER_AGENT = f"echoscope/{__version__} OTel-OTLP-Exporter-Python/{_sdk_version}"


class OtlpSender:
    """Posts encoded OTLP bodies of one content type to one signal's endpoint."""

    def __init__(self, config: OtlpHttp, content_type: str) -> None:
        self._config = config
        # As the SDK's exporters: the configured headers, then the content type and the
        # User-Agent over any of the same name (one of each, whatever the case).
        self._headers = urllib3.HTTPHeaderDict(dict(config.headers))
        self._headers["Content-Type"] = content_type
        self._headers["User-Agent"] = USER_AGENT
        if config.compression != "none":
            self._headers["Content-Encoding"] = config.compression
        cert = config.client_certificate
        self._pool = urllib3.PoolManager(
            retries=False,
            ca_certs=config.certificate,
            cert_file=cert,
            key_file=config.client_key if cert else None,
        )
        self._stopped = threading.Event()

    def send(self, body: bytes) -> bool:
        """POST `body`; True once the collector took it, False when it could not be delivered."""
        if self._stopped.is_set():
            return False
        body = _compressed(body, self._config.compression)
        deadline = time.monotonic() + self._config.timeout_seconds
        for attempt in range(_MAX_ATTEMPTS):
            status, retry_after = self._post(body, deadline)
            if status is not None and 200 <= status < 300:
                return True
            delay = (
                retry_after if retry_after is not None else 2**attempt * random.uniform(0.8, 1.2)
            )
            retryable = status is None or status in _RETRYABLE
            if not retryable or delay > deadline - time.monotonic() or self._stopped.wait(delay):
                _log.warning("OTLP export to %s failed: %s", self._config.endpoint, status)
                return False
        return False

    def shutdown(self) -> None:
        """Stop: no new sends, a back-off in progress ends now."""
        self._stopped.set()
        self._pool.clear()

    def _post(self, body: bytes, deadline: float) -> tuple[int | None, float | None]:
        timeout = max(deadline - time.monotonic(), 0.001)
        try:
            response = self._pool.request(
                "POST", self._config.endpoint, body=body, headers=self._headers, timeout=timeout
            )
        except urllib3.exceptions.HTTPError:
            return None, None  # connection refused, reset or timed out: retried
        return response.status, _retry_after(response.headers.get("Retry-After"))


def _compressed(body: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(body, compresslevel=6, mtime=0)
    if compression == "deflate":
        return zlib.compress(body)
    return body


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    when = email.utils.parsedate_to_datetime(value) if "," in value else None
    return max(when.timestamp() - time.time(), 0.0) if when else None
