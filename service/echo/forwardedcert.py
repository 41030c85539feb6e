"""Client certificates a TLS-terminating proxy forwards in headers, one reader per format.

Looked for in this order, the first present wins: RFC 9440's `Client-Cert`,
Envoy's `X-Forwarded-Client-Cert` (the last element: the nearest proxy's),
Traefik's `X-Forwarded-Tls-Client-Cert` (or only its `-Info`), nginx's escaped
PEM (`$ssl_client_escaped_cert` in `X-SSL-Client-Cert`, `SSL-Client-Cert` or
`X-SSL-Cert`, with `$ssl_client_verify`), and the Google Cloud load balancer's
mTLS custom headers (`X-Client-Cert-Present` … as its documentation names them).
A reader hands back the certificate's DER when the header carries one, else the
fields the header states. Only service.echo.clientcert calls this, and only for
requests through trusted proxy hops.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, unquote_plus

FIELDS = (
    "source", "subject", "issuer", "sans", "serial", "not_before", "not_after", "sha256",
    "verified_by",
)  # fmt: skip
MAX_HEADER = 16384
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----")
_HEX = re.compile(r"[0-9a-fA-F:]+")
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_NGINX = ("x-ssl-client-cert", "ssl-client-cert", "x-ssl-cert")
_NGINX_VERIFY = ("x-ssl-client-verify", "ssl-client-verify")
_GCLB = "x-client-cert-"


@dataclasses.dataclass(frozen=True, slots=True)
class Forwarded:
    """What one header format said: the certificate (DER) or the fields it states."""

    source: str
    der: bytes | None
    verified_by: str | None
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: str | None = None


def read(headers: Mapping[str, str]) -> Forwarded | None:
    """The first forwarded certificate found, or None; garbage is a Forwarded with an error."""
    lowered = {key.lower(): value for key, value in headers.items()}
    for source, reader in _READERS:
        try:
            found = reader(lowered)
        except ValueError as error:  # a header past MAX_HEADER, or one that is not its format
            return Forwarded(source, None, None, {"error": str(error)}, str(error))
        if found is not None:
            return found
    return None


def timestamp(seconds: float) -> str:
    """RFC 3339 UTC, as every date in the record."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc9440(headers: dict[str, str]) -> Forwarded | None:
    value = headers.get("client-cert")
    if value is None:
        return None
    return _with_der("rfc9440", "the proxy (Client-Cert)", lambda: _byte_sequence(value))


def _envoy(headers: dict[str, str]) -> Forwarded | None:
    value = headers.get("x-forwarded-client-cert")
    if value is None:
        return None
    element = _split(_bounded(value), ",")[-1]  # each proxy appends its own: ours is the last
    pairs: dict[str, list[str]] = {}
    for pair in _split(element, ";"):
        key, _, raw = pair.partition("=")
        pairs.setdefault(key.strip().lower(), []).append(_unquoted(raw.strip()))
    by = pairs.get("by", [None])[0]
    verified_by = f"envoy (By={by})" if by else "envoy"
    if "cert" in pairs:
        return _with_der("envoy", verified_by, lambda: _pem(unquote(pairs["cert"][0])))
    sans = [f"URI:{uri}" for uri in pairs.get("uri", [])]
    sans += [f"DNS:{name}" for name in pairs.get("dns", [])]
    fields = {"subject": pairs.get("subject", [None])[0], "sans": sans or None}
    fields["sha256"] = _hex(pairs.get("hash", [""])[0])
    return Forwarded("envoy", None, verified_by, {**fields, "verified_by": verified_by})


def _traefik(headers: dict[str, str]) -> Forwarded | None:
    cert = headers.get("x-forwarded-tls-client-cert")
    info = headers.get("x-forwarded-tls-client-cert-info")
    if cert is not None:  # PEM without its armour, query-escaped; a chain comma-separated
        first = unquote_plus(_bounded(cert)).split(",")[0]
        return _with_der("traefik", "traefik", lambda: _base64("".join(first.split())))
    if info is None:
        return None
    pairs = {}
    for pair in _split(_split(unquote_plus(_bounded(info)), ",")[0], ";"):
        key, _, raw = pair.partition("=")
        pairs[key.strip().lower()] = _unquoted(raw.strip())
    sans = [san for san in pairs.get("san", "").split(",") if san] or None
    fields = {"subject": pairs.get("subject"), "issuer": pairs.get("issuer"), "sans": sans}
    fields.update(not_before=_epoch(pairs.get("nb")), not_after=_epoch(pairs.get("na")))
    return Forwarded("traefik", None, "traefik", {**fields, "verified_by": "traefik"})


def _nginx(headers: dict[str, str]) -> Forwarded | None:
    value = next((headers[name] for name in _NGINX if name in headers), None)
    if value is None:
        return None
    verify = next((headers[name] for name in _NGINX_VERIFY if name in headers), None)
    found = _with_der(
        "nginx", "nginx" if verify == "SUCCESS" else None, lambda: _pem(unquote(value))
    )
    if verify is None or verify == "SUCCESS" or found.error:
        return found
    return dataclasses.replace(found, error=f"ssl_client_verify: {verify[:200]}")


def _gclb(headers: dict[str, str]) -> Forwarded | None:
    present = headers.get(_GCLB + "present")
    if present is None:
        return None
    source = "google-cloud-load-balancer"
    said = {k.removeprefix(_GCLB): _bounded(v) for k, v in headers.items() if k.startswith(_GCLB)}
    verified_by = source if said.get("chain-verified", "").lower() == "true" else None
    error = said.get("error") or None
    if present.lower() != "true":
        error = error or "the load balancer saw no client certificate"
    if "leaf" in said:
        found = _with_der(source, verified_by, lambda: _byte_sequence(said["leaf"]))
        return dataclasses.replace(found, error=found.error or error)
    sans = [f"URI:{uri}" for uri in _list(said.get("spiffe", "")) + _list(said.get("uri-sans", ""))]
    sans += [f"DNS:{name}" for name in _list(said.get("dnsname-sans", ""))]
    fields = {"sans": sans or None, "serial": _hex(said.get("serial-number", ""))}
    fields.update(sha256=_fingerprint(said.get("hash", "")), verified_by=verified_by, error=error)
    fields.update(not_before=_date(said.get("valid-not-before")))
    fields["not_after"] = _date(said.get("valid-not-after"))
    return Forwarded(source, None, verified_by, fields)


_READERS: tuple[tuple[str, Callable[[dict[str, str]], Forwarded | None]], ...] = (
    ("rfc9440", _rfc9440), ("envoy", _envoy), ("traefik", _traefik), ("nginx", _nginx),
    ("google-cloud-load-balancer", _gclb),
)  # fmt: skip


def _with_der(source: str, verified_by: str | None, decode: Callable[[], bytes]) -> Forwarded:
    try:
        return Forwarded(source, decode(), verified_by)
    except ValueError as error:
        fields = {"verified_by": verified_by, "error": f"no certificate in the header: {error}"}
        return Forwarded(source, None, verified_by, fields, fields["error"])


def _bounded(value: str) -> str:
    if len(value) > MAX_HEADER:
        raise ValueError(f"the header is longer than {MAX_HEADER} characters")
    return value


def _pem(text: str) -> bytes:
    match = _PEM.search(_bounded(text))
    if match is None:
        raise ValueError("expected a PEM certificate")
    return _base64("".join(match[1].split()))


def _byte_sequence(value: str) -> bytes:
    """RFC 8941's byte sequence (`:base64:`), as RFC 9440 sends a certificate."""
    value = _bounded(value).strip()
    if len(value) < 2 or value[0] != ":" or value[-1] != ":":
        raise ValueError("expected :base64: (RFC 9440)")
    return _base64(value[1:-1])


def _base64(text: str) -> bytes:
    try:
        return base64.b64decode(_bounded(text), validate=True)
    except binascii.Error as error:
        raise ValueError(f"not base64 ({error})") from None


def _split(text: str, separator: str) -> list[str]:
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


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _list(value: str) -> list[str]:
    """A comma-separated list; an item that is base64 of printable text is decoded (GCLB)."""
    return [_maybe_base64(item.strip()) for item in value.split(",") if item.strip()]


def _maybe_base64(item: str) -> str:
    try:
        decoded = base64.b64decode(item, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return item
    return decoded if decoded.isprintable() and decoded else item


def _hex(value: str) -> str | None:
    value = value.strip()
    return value.replace(":", "").lower() if value and _HEX.fullmatch(value) else None


def _fingerprint(value: str) -> str | None:
    """A SHA-256 fingerprint as hex, from hex or (as the load balancer sends it) base64."""
    if _HEX.fullmatch(value.strip() or "-"):
        return _hex(value)
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        return None
    return digest.hex() if len(digest) == 32 else None


def _date(value: str | None) -> str | None:
    return value.strip() if value and _RFC3339.fullmatch(value.strip()) else None


def _epoch(value: str | None) -> str | None:
    if not value or not value.isascii() or not value.isdigit() or len(value) > 11:
        return None
    return timestamp(int(value))
