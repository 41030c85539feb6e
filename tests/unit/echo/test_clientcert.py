"""Client certificates from TLS and proxies: parsed with cryptography, bounded, never raising."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.echo import clientcert, forwardedcert
from tests.support.certs import issue, make_ca

TRUSTED = {"werkzeug.proxy_fix.orig": {}}
HEADERS = [
    "Client-Cert", "X-Forwarded-Client-Cert", "X-Forwarded-Tls-Client-Cert",
    "X-Forwarded-Tls-Client-Cert-Info", "X-SSL-Client-Cert", "SSL-Client-Cert", "X-SSL-Cert",
    "X-Client-Cert-Present", "X-Client-Cert-Leaf", "X-Client-Cert-Hash",
    "X-Client-Cert-DNSName-SANs", "X-Client-Cert-Valid-Not-Before",
]  # fmt: skip


def test_a_certificate_is_read_whole() -> None:
    ca = make_ca()
    cert = issue(ca, "c", dns=("a.example",), uris=("spiffe://x/y",), ips=("10.1.2.3",))
    found = clientcert.from_der(cert.der, "tls", clientcert.TLS_VERIFIER)
    assert found["sans"] == ["DNS:a.example", "URI:spiffe://x/y", "IP:10.1.2.3"]
    assert found["sha256"] == cert.sha256 and found["serial"] == cert.serial
    assert found["issuer"] == "CN=echoscope test CA,O=echoscope tests"


def test_bytes_that_are_no_certificate() -> None:
    found = clientcert.from_der(b"\x30\x03\x02\x01\x01", "rfc9440", None)
    assert found["subject"] is None and found["error"].startswith("not a certificate")
    assert set(found) == {*forwardedcert.FIELDS, "error"}


def test_values_are_bounded() -> None:
    ca = make_ca()
    cert = issue(ca, "c" * 64, dns=tuple(f"h{i}.example" for i in range(40)))
    found = clientcert.from_der(cert.der, "tls", None)
    assert len(found["sans"]) == clientcert.MAX_SANS
    long_subject = forwardedcert.Forwarded("envoy", None, "envoy", {"subject": "x" * 5000})
    shaped = clientcert.bounded({"source": "envoy", **long_subject.fields})
    assert len(shaped["subject"]) == clientcert.MAX_TEXT + 1


def test_a_header_past_its_bound_is_an_error() -> None:
    found = forwardedcert.read({"X-Forwarded-Client-Cert": "Hash=" + "a" * 20000})
    assert found is not None and found.error is not None and "16384" in found.error


def test_without_trusted_hops_headers_are_not_read() -> None:
    ca = make_ca()
    header = {"Client-Cert": ":" + base64.b64encode(issue(ca, "c").der).decode() + ":"}
    assert clientcert.describe({}, header) is None
    assert clientcert.describe(TRUSTED, header)["subject"] == "CN=c,O=echoscope tests"  # type: ignore[index]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(HEADERS), st.text(max_size=300), min_size=1))
def test_garbage_never_raises(headers: dict[str, str]) -> None:
    found: Any = clientcert.describe(TRUSTED, headers)
    assert found is None or set(found) <= {*forwardedcert.FIELDS, "error"}


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_garbage_bytes_never_raise(der: bytes) -> None:
    assert clientcert.from_der(der, "tls", None)["source"] == "tls"
