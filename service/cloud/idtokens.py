"""Google ID tokens for `ECHO_CALL_AUTH=google`, from the metadata server, cached until near expiry.

Cloud Run's metadata server mints a token for any audience; a receiving Cloud
Run service accepts one whose audience is its URL. echoscope asks once per
target origin and keeps the token until a few minutes before its `exp`.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import quote

from service.cloud import metadata
from service.telemetry import credentials

_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity?audience="
_RENEW_BEFORE_SECONDS = 300  # Google's tokens live an hour; never send one about to expire
_FALLBACK_LIFETIME_SECONDS = 600  # a token without `exp` is kept this long


class IdTokenError(RuntimeError):
    """No ID token could be had; the message says why."""


class IdTokens:
    """A cache of ID tokens by audience, filled from the metadata server on demand."""

    def __init__(self, metadata_host: str, timeout: float) -> None:
        self._host = metadata_host
        self._timeout = timeout
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token_for(self, audience: str) -> str:
        """A token whose `aud` is `audience`, cached or fetched now (IdTokenError if none)."""
        cached = self._tokens.get(audience)
        if cached is not None and time.time() < cached[1]:
            return cached[0]
        with self._lock:  # one fetch per audience, however many calls want it at once
            cached = self._tokens.get(audience)
            if cached is not None and time.time() < cached[1]:
                return cached[0]
            token, renew_at = self._fetch(audience)
            self._tokens[audience] = (token, renew_at)
            return token

    def _fetch(self, audience: str) -> tuple[str, float]:
        path = _PATH + quote(audience, safe="")
        token = metadata.ask_metadata_server(self._host, path, self._timeout)
        if token is None:
            raise IdTokenError(f"the metadata server at {self._host} gave no ID token")
        try:
            _, claims = credentials.decode(token)
        except credentials.NotAJwt as error:
            raise IdTokenError(f"the metadata server's ID token is {error}") from None
        expiry = claims.get("exp")
        if isinstance(expiry, int | float) and not isinstance(expiry, bool):
            return token, float(expiry) - _RENEW_BEFORE_SECONDS
        return token, time.time() + _FALLBACK_LIFETIME_SECONDS
