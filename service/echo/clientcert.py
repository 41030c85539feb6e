"""The record's `client_cert`: the client's certificate, as TLS or a trusted proxy presented it.

From a TLS handshake (ECHO_TLS_CLIENT_CERT) the certificate itself; else, only
when the request came through ECHO_TRUSTED_PROXY_HOPS proxies (werkzeug's
ProxyFix is in place), what the nearest proxy forwarded in a header
(service.echo.forwardedcert). echoscope verifies nothing: `verified_by` names
who claimed the certificate was valid, None when nobody did. Every value is
bounded, and garbage is an `error` in the record, never a failed request.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from service.echo import certvalues, forwardedcert

if TYPE_CHECKING:  # cryptography (~30 ms at start) only when a certificate arrives
    from cryptography import x509

# ProxyFix keeps the original environ here: the request came through trusted hops.
_TRUSTED_PROXY = "werkzeug.proxy_fix.orig"
MAX_TEXT = 1024  # a subject or issuer, one SAN
MAX_SANS = 32
TLS_VERIFIER = "the TLS handshake (ECHO_TLS_CLIENT_CA_FILE)"
ClientCert = dict[str, Any]


def describe(environ: Mapping[str, Any], headers: Mapping[str, str]) -> ClientCert | None:
    """The record's `client_cert`, or None when no certificate reached echoscope."""
    sock = environ.get("gunicorn.socket")
    if isinstance(sock, ssl.SSLSocket):
        der = sock.getpeercert(binary_form=True)
        if der:
            return from_der(der, "tls", TLS_VERIFIER)
    if _TRUSTED_PROXY not in environ:
        return None  # without trusted hops, anyone could have written the header
    forwarded = forwardedcert.read(headers)
    if forwarded is None:
        return None
    if forwarded.der is not None:
        cert = from_der(forwarded.der, forwarded.source, forwarded.verified_by)
        return cert if forwarded.error is None else {**cert, "error": forwarded.error}
    said = {name: value for name, value in forwarded.fields.items() if value}
    if not said.keys() - {"verified_by"}:
        said["error"] = "the header states no field of a certificate"
    return bounded({"source": forwarded.source, **said})


def tls_of(environ: Mapping[str, Any]) -> dict[str, Any] | None:
    """The record's `tls`: the version, cipher and ALPN protocol of a TLS connection."""
    sock = environ.get("gunicorn.socket")
    if not isinstance(sock, ssl.SSLSocket):
        return None
    cipher = sock.cipher()
    return {
        "version": sock.version(),
        "cipher": cipher[0] if cipher else None,
        "alpn": sock.selected_alpn_protocol(),
    }


def from_der(der: bytes, source: str, verified_by: str | None) -> ClientCert:
    """The fields of a DER certificate; an `error` (and nulls) when it does not parse."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        cert = x509.load_der_x509_certificate(der)
        fields = {
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "sans": _sans(cert),
            "serial": f"{cert.serial_number:x}",
            "not_before": certvalues.timestamp(cert.not_valid_before_utc.timestamp()),
            "not_after": certvalues.timestamp(cert.not_valid_after_utc.timestamp()),
            "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        }
    except ValueError as error:  # cryptography's answer to every malformed certificate
        return bounded(
            {"source": source, "verified_by": verified_by, "error": f"not a certificate: {error}"}
        )
    return bounded({"source": source, **fields, "verified_by": verified_by})


def bounded(found: dict[str, Any]) -> ClientCert:
    """Every field of the shape present (None when unknown), each text cut to MAX_TEXT."""
    shaped: ClientCert = {name: found.get(name) for name in forwardedcert.FIELDS}
    for name in ("subject", "issuer", "serial", "sha256", "verified_by", "not_before", "not_after"):
        shaped[name] = _cut(shaped[name])
    sans = shaped["sans"]
    shaped["sans"] = None if sans is None else [_cut(san) for san in sans[:MAX_SANS]]
    if found.get("error"):
        shaped["error"] = _cut(found["error"])
    return shaped


def _sans(cert: x509.Certificate) -> list[str]:
    from cryptography import x509

    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    sans = [f"DNS:{name}" for name in names.get_values_for_type(x509.DNSName)]
    sans += [f"URI:{uri}" for uri in names.get_values_for_type(x509.UniformResourceIdentifier)]
    sans += [f"IP:{address}" for address in names.get_values_for_type(x509.IPAddress)]
    sans += [f"email:{mail}" for mail in names.get_values_for_type(x509.RFC822Name)]
    return sans


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[:MAX_TEXT] + "…"
    return value
