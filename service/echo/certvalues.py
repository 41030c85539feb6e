"""The values inside forwarded-certificate headers: byte sequences, PEM, quoted lists, dates.

Each parser raises ValueError (bad input) or answers None (a value that is not
its kind); service.echo.forwardedcert turns either into the record's `error`.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re

MAX_HEADER = 16384
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----")
_HEX = re.compile(r"[0-9a-fA-F:]+")
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def timestamp(seconds: float) -> str:
    """RFC 3339 UTC, as every date in the record."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def bounded(value: str) -> str:
    """`value`, or ValueError past MAX_HEADER characters."""
    if len(value) > MAX_HEADER:
        raise ValueError(f"the header is longer than {MAX_HEADER} characters")
    return value


def pem(text: str) -> bytes:
    """The DER of the first PEM certificate in `text`."""
    match = _PEM.search(bounded(text))
    if match is None:
        raise ValueError("expected a PEM certificate")
    return base64_bytes("".join(match[1].split()))


def byte_sequence(value: str) -> bytes:
    """RFC 8941's byte sequence (`:base64:`), as RFC 9440 sends a certificate."""
    value = bounded(value).strip()
    if len(value) < 2 or value[0] != ":" or value[-1] != ":":
        raise ValueError("expected :base64: (RFC 9440)")
    return base64_bytes(value[1:-1])


def base64_bytes(text: str) -> bytes:
    """Standard base64, strictly."""
    try:
        return base64.b64decode(bounded(text), validate=True)
    except binascii.Error as error:
        raise ValueError(f"not base64 ({error})") from None


def split_unquoted(text: str, separator: str) -> list[str]:
    """Split on `separator` outside double quotes (a backslash escapes inside them)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def unquoted(value: str) -> str:
    """A double-quoted value without its quotes and escapes; any other value as is."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def names(value: str) -> list[str]:
    """A comma-separated list; an item that is base64 of printable text is decoded (GCLB)."""
    return [maybe_base64(item.strip()) for item in value.split(",") if item.strip()]


def maybe_base64(item: str) -> str:
    try:
        decoded = base64.b64decode(item, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return item
    return decoded if decoded.isprintable() and decoded else item


def hex_id(value: str) -> str | None:
    """Hex (colons allowed) as lowercase hex, else None."""
    value = value.strip()
    return value.replace(":", "").lower() if value and _HEX.fullmatch(value) else None


def fingerprint(value: str) -> str | None:
    """A SHA-256 fingerprint as hex, from hex or (as the load balancer sends it) base64."""
    if _HEX.fullmatch(value.strip() or "-"):
        return hex_id(value)
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        return None
    return digest.hex() if len(digest) == 32 else None


def rfc3339(value: str | None) -> str | None:
    """An RFC 3339 timestamp as given, else None."""
    return value.strip() if value and _RFC3339.fullmatch(value.strip()) else None


def from_epoch(value: str | None) -> str | None:
    """Seconds since the epoch (as Traefik sends them) as RFC 3339, else None."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 11:
        return None
    return timestamp(int(value))
