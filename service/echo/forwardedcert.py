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

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, unquote_plus

from service.echo import certvalues as values

FIELDS = (
    "source", "subject", "issuer", "sans", "serial", "not_before", "not_after", "sha256",
    "verified_by",
)  # fmt: skip
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


def _rfc9440(headers: dict[str, str]) -> Forwarded | None:
    value = headers.get("client-cert")
    if value is None:
        return None
    return _with_der("rfc9440", "the proxy (Client-Cert)", lambda: values.byte_sequence(value))


def _envoy(headers: dict[str, str]) -> Forwarded | None:
    value = headers.get("x-forwarded-client-cert")
    if value is None:
        return None
    element = values.split_unquoted(values.bounded(value), ",")[
        -1
    ]  # each proxy appends its own: ours is the last
    pairs: dict[str, list[str]] = {}
    for pair in values.split_unquoted(element, ";"):
        key, _, raw = pair.partition("=")
        pairs.setdefault(key.strip().lower(), []).append(values.unquoted(raw.strip()))
    by = pairs.get("by", [None])[0]
    verified_by = f"envoy (By={by})" if by else "envoy"
    if "cert" in pairs:
        return _with_der("envoy", verified_by, lambda: values.pem(unquote(pairs["cert"][0])))
    sans = [f"URI:{uri}" for uri in pairs.get("uri", [])]
    sans += [f"DNS:{name}" for name in pairs.get("dns", [])]
    fields = {"subject": pairs.get("subject", [None])[0], "sans": sans or None}
    fields["sha256"] = values.hex_id(pairs.get("hash", [""])[0])
    return Forwarded("envoy", None, verified_by, {**fields, "verified_by": verified_by})


def _traefik(headers: dict[str, str]) -> Forwarded | None:
    cert = headers.get("x-forwarded-tls-client-cert")
    info = headers.get("x-forwarded-tls-client-cert-info")
    if cert is not None:  # PEM without its armour, query-escaped; a chain comma-separated
        first = unquote_plus(values.bounded(cert)).split(",")[0]
        return _with_der("traefik", "traefik", lambda: values.base64_bytes("".join(first.split())))
    if info is None:
        return None
    pairs = {}
    for pair in values.split_unquoted(
        values.split_unquoted(unquote_plus(values.bounded(info)), ",")[0], ";"
    ):
        key, _, raw = pair.partition("=")
        pairs[key.strip().lower()] = values.unquoted(raw.strip())
    sans = [san for san in pairs.get("san", "").split(",") if san] or None
    fields = {"subject": pairs.get("subject"), "issuer": pairs.get("issuer"), "sans": sans}
    fields.update(
        not_before=values.from_epoch(pairs.get("nb")), not_after=values.from_epoch(pairs.get("na"))
    )
    return Forwarded("traefik", None, "traefik", {**fields, "verified_by": "traefik"})


def _nginx(headers: dict[str, str]) -> Forwarded | None:
    value = next((headers[name] for name in _NGINX if name in headers), None)
    if value is None:
        return None
    verify = next((headers[name] for name in _NGINX_VERIFY if name in headers), None)
    found = _with_der(
        "nginx", "nginx" if verify == "SUCCESS" else None, lambda: values.pem(unquote(value))
    )
    if verify is None or verify == "SUCCESS" or found.error:
        return found
    return dataclasses.replace(found, error=f"ssl_client_verify: {verify[:200]}")


def _gclb(headers: dict[str, str]) -> Forwarded | None:
    present = headers.get(_GCLB + "present")
    if present is None:
        return None
    source = "google-cloud-load-balancer"
    said = {
        k.removeprefix(_GCLB): values.bounded(v) for k, v in headers.items() if k.startswith(_GCLB)
    }
    verified_by = source if said.get("chain-verified", "").lower() == "true" else None
    error = said.get("error") or None
    if present.lower() != "true":
        error = error or "the load balancer saw no client certificate"
    if "leaf" in said:
        found = _with_der(source, verified_by, lambda: values.byte_sequence(said["leaf"]))
        return dataclasses.replace(found, error=found.error or error)
    sans = [
        f"URI:{uri}"
        for uri in values.names(said.get("spiffe", "")) + values.names(said.get("uri-sans", ""))
    ]
    sans += [f"DNS:{name}" for name in values.names(said.get("dnsname-sans", ""))]
    fields = {
        "sans": sans or None,
        "serial": values.hex_id(said.get("serial-number", "")),
        "sha256": values.fingerprint(said.get("hash", "")),
        "not_before": values.rfc3339(said.get("valid-not-before")),
        "not_after": values.rfc3339(said.get("valid-not-after")),
        "verified_by": verified_by,
        "error": error,
    }
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
