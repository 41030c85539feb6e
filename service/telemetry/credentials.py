"""Who called: the JWT a caller presented, decoded (never verified) for the record's `auth`.

echoscope checks no signature: the record says `verified: false`, and the raw
token stays redacted in logs and spans whatever ECHO_REDACT_HEADERS says.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import orjson

from service.telemetry.redact import REDACTED

# Where a token may arrive, in the order `auth` looks: Cloud Run's header for
# service-to-service calls, IAP's assertion, then the standard header.
TOKEN_HEADERS = ("x-serverless-authorization", "x-goog-iap-jwt-assertion", "authorization")
_LOGGED_CLAIMS = ("iss", "aud", "sub", "exp")
_MAX_TOKEN_CHARS = 16384


class NotAJwt(ValueError):
    """The value is not a JSON Web Token; the message says why."""


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JOSE header and claims of a compact JWT (signature unchecked), or NotAJwt."""
    if len(token) > _MAX_TOKEN_CHARS:
        raise NotAJwt(f"longer than {_MAX_TOKEN_CHARS} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise NotAJwt(f"{len(parts)} dot-separated parts, a JWT has 3")
    return _segment(parts[0], "the header is"), _segment(parts[1], "the claims are")


def describe(headers: Mapping[str, str]) -> dict[str, Any] | None:
    """The record's `auth`: the first token found in TOKEN_HEADERS, decoded; None without one."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in TOKEN_HEADERS:
        value = lowered.get(name)
        if value is None:
            continue
        token = bare_token(name, value)
        if token is None:
            continue
        auth: dict[str, Any] = {"source": name, "header": None, "claims": None, "verified": False}
        try:
            auth["header"], auth["claims"] = decode(token)
        except NotAJwt as error:
            auth["error"] = f"not a JWT: {error}"
        return auth
    return None


def holds_token(header: str, value: str) -> bool:
    """True when `value` of `header` is a token `auth` would read."""
    name = header.lower().replace("_", "-")
    return name in TOKEN_HEADERS and value != REDACTED and bare_token(name, value) is not None


def loggable(auth: dict[str, Any] | None) -> dict[str, Any] | None:
    """`auth` for the log line: the claims cut to iss, aud, sub and exp."""
    if auth is None:
        return None
    claims = auth.get("claims")
    kept = {key: claims[key] for key in _LOGGED_CLAIMS if key in claims} if claims else claims
    return {**auth, "claims": kept}


def bare_token(header: str, value: str) -> str | None:
    """The token `value` of header `header` (lowercase, dashes) carries, or None without one."""
    if header == "x-goog-iap-jwt-assertion":
        return value.strip()
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _segment(text: str, subject: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise NotAJwt(f"{subject} not base64url JSON ({error})") from None
    if not isinstance(value, dict):
        raise NotAJwt(f"{subject} not a JSON object")
    return value
