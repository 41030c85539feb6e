"""Client certificates forwarded by a trusted proxy, in each format, through gunicorn.

Each certificate is made by the test's own CA; the record's `client_cert` must
show what the certificate says. Garbage in every header is an `error` in the
record, never a 500; without trusted proxy hops every header is ignored.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support.certs import Issued, issue, make_ca
from tests.support.server import Server

CA = make_ca()
CLIENT = issue(
    CA, "billing-client", dns=("billing.internal",), uris=("spiffe://mesh/ns/billing/sa/api",)
)
SUBJECT = "CN=billing-client,O=echoscope tests"
ISSUER = "CN=echoscope test CA,O=echoscope tests"
SANS = ["DNS:billing.internal", "URI:spiffe://mesh/ns/billing/sa/api"]


@pytest.fixture(scope="module")
def proxied(make_module_server: MakeServer) -> Server:
    return make_module_server({"ECHO_TRUSTED_PROXY_HOPS": "1"})


def _cert_of(server: Server, headers: dict[str, str]) -> Any:
    response = requests.get(f"{server.url}/anything", headers=headers, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["client_cert"]


def _whole(cert: Issued, source: str, verified_by: str | None) -> dict[str, Any]:
    return {
        "source": source,
        "subject": SUBJECT,
        "issuer": ISSUER,
        "sans": SANS,
        "serial": cert.serial,
        "not_before": "2026-01-01T00:00:00Z",
        "not_after": "2036-01-01T00:00:00Z",
        "sha256": cert.sha256,
        "verified_by": verified_by,
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_rfc9440_client_cert(proxied: Server) -> None:
    found = _cert_of(proxied, {"Client-Cert": f":{_b64(CLIENT.der)}:"})
    assert found == _whole(CLIENT, "rfc9440", "the proxy (Client-Cert)")


def test_envoy_xfcc_takes_the_nearest_proxys_element(proxied: Server) -> None:
    other = issue(CA, "someone-else")
    xfcc = (
        f'By=spiffe://far;Cert="{quote(other.pem, safe="")}",'
        f"By=spiffe://mesh/gateway;Hash={CLIENT.sha256};"
        f'Cert="{quote(CLIENT.pem, safe="")}";Subject="{SUBJECT}";URI=spiffe://x'
    )
    found = _cert_of(proxied, {"X-Forwarded-Client-Cert": xfcc})
    assert found == _whole(CLIENT, "envoy", "envoy (By=spiffe://mesh/gateway)")


def test_envoy_xfcc_without_the_certificate(proxied: Server) -> None:
    xfcc = (
        f'Hash={CLIENT.sha256};Subject="/O=echoscope tests/CN=billing-client";'
        "URI=spiffe://mesh/ns/billing/sa/api;DNS=billing.internal;DNS=b.internal"
    )
    found = _cert_of(proxied, {"X-Forwarded-Client-Cert": xfcc})
    assert found["sha256"] == CLIENT.sha256
    assert found["subject"] == "/O=echoscope tests/CN=billing-client"
    assert found["sans"] == [
        "URI:spiffe://mesh/ns/billing/sa/api", "DNS:billing.internal", "DNS:b.internal"
    ]  # fmt: skip
    assert found["verified_by"] == "envoy" and found["serial"] is None


def test_traefik_pem(proxied: Server) -> None:
    bare = "".join(CLIENT.pem.splitlines()[1:-1])  # Traefik strips the armour and line breaks
    found = _cert_of(proxied, {"X-Forwarded-Tls-Client-Cert": quote_plus(bare)})
    assert found == _whole(CLIENT, "traefik", "traefik")


def test_traefik_info_only(proxied: Server) -> None:
    info = (
        'Subject="O=echoscope tests,CN=billing-client";Issuer="CN=echoscope test CA";'
        'NB="1767225600";NA="2082758400";SAN="billing.internal,10.0.0.7"'
    )
    found = _cert_of(proxied, {"X-Forwarded-Tls-Client-Cert-Info": quote_plus(info)})
    assert found["subject"] == "O=echoscope tests,CN=billing-client"
    assert found["issuer"] == "CN=echoscope test CA"
    assert (found["not_before"], found["not_after"]) == (
        "2026-01-01T00:00:00Z",
        "2036-01-01T00:00:00Z",
    )
    assert found["sans"] == ["billing.internal", "10.0.0.7"] and found["sha256"] is None


def test_nginx_escaped_pem(proxied: Server) -> None:
    escaped = quote(CLIENT.pem, safe="")
    verified = _cert_of(proxied, {"X-SSL-Client-Cert": escaped, "X-SSL-Client-Verify": "SUCCESS"})
    assert verified == _whole(CLIENT, "nginx", "nginx")
    failed = _cert_of(
        proxied, {"Ssl-Client-Cert": escaped, "Ssl-Client-Verify": "FAILED:certificate has expired"}
    )
    assert failed["verified_by"] is None and failed["sha256"] == CLIENT.sha256
    assert failed["error"] == "ssl_client_verify: FAILED:certificate has expired"
    unsaid = _cert_of(proxied, {"X-SSL-Cert": escaped})
    assert unsaid["verified_by"] is None and unsaid["subject"] == SUBJECT


def test_google_cloud_load_balancer_headers(proxied: Server) -> None:
    headers = {
        "X-Client-Cert-Present": "true",
        "X-Client-Cert-Chain-Verified": "true",
        "X-Client-Cert-Error": "",
        "X-Client-Cert-Hash": _b64(hashlib.sha256(CLIENT.der).digest()),
        "X-Client-Cert-Serial-Number": CLIENT.serial,
        "X-Client-Cert-SPIFFE": "spiffe://mesh/ns/billing/sa/api",
        "X-Client-Cert-URI-SANs": _b64(b"https://billing.example/id"),
        "X-Client-Cert-DNSName-SANs": f"{_b64(b'billing.internal')},{_b64(b'b.internal')}",
        "X-Client-Cert-Valid-Not-Before": "2026-01-01T00:00:00Z",
        "X-Client-Cert-Valid-Not-After": "2036-01-01T00:00:00Z",
    }
    found = _cert_of(proxied, headers)
    assert found == {
        "source": "google-cloud-load-balancer",
        "subject": None,
        "issuer": None,
        "sans": [
            "URI:spiffe://mesh/ns/billing/sa/api", "URI:https://billing.example/id",
            "DNS:billing.internal", "DNS:b.internal",
        ],
        "serial": CLIENT.serial,
        "not_before": "2026-01-01T00:00:00Z",
        "not_after": "2036-01-01T00:00:00Z",
        "sha256": CLIENT.sha256,
        "verified_by": "google-cloud-load-balancer",
    }  # fmt: skip
    unverified = _cert_of(
        proxied,
        {**headers, "X-Client-Cert-Chain-Verified": "false",
         "X-Client-Cert-Error": "client_cert_validation_failed"},
    )  # fmt: skip
    assert unverified["verified_by"] is None
    assert unverified["error"] == "client_cert_validation_failed"
    absent = _cert_of(proxied, {"X-Client-Cert-Present": "false"})
    assert absent["error"] == "the load balancer saw no client certificate"
    leaf = _cert_of(
        proxied, {**headers, "X-Client-Cert-Leaf": f":{_b64(CLIENT.der)}:"}
    )  # the whole certificate, when the load balancer is configured to send it
    assert leaf == _whole(CLIENT, "google-cloud-load-balancer", "google-cloud-load-balancer")


GARBAGE = [
    {"Client-Cert": "garbage"}, {"Client-Cert": ":!!!:"}, {"Client-Cert": f":{_b64(b'x' * 300)}:"},
    {"Client-Cert": "::"},
    {"X-Forwarded-Client-Cert": 'Cert="not a pem"'}, {"X-Forwarded-Client-Cert": '"""";;;,,,='},
    {"X-Forwarded-Client-Cert": 'Cert="-----BEGIN CERTIFICATE-----AAAA-----END CERTIFICATE-----"'},
    {"X-Forwarded-Client-Cert": "Hash=zz;Subject=\"\\"},
    {"X-Forwarded-Tls-Client-Cert": "%%%"}, {"X-Forwarded-Tls-Client-Cert": "QUJD"},
    {"X-Forwarded-Tls-Client-Cert-Info": 'NB="-1";NA="99999999999999";SAN="'},
    {"X-SSL-Client-Cert": "%2D%2D%2D"}, {"X-SSL-Client-Cert": quote("-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----")},
    {"X-Client-Cert-Present": "maybe", "X-Client-Cert-Hash": "????", "X-Client-Cert-Serial-Number": "xyz",
     "X-Client-Cert-Valid-Not-Before": "yesterday", "X-Client-Cert-DNSName-SANs": ",,,"},
    {"X-Client-Cert-Present": "true", "X-Client-Cert-Leaf": ":AAAA:"},
]  # fmt: skip


@pytest.mark.parametrize("headers", GARBAGE)
def test_garbage_in_every_header_is_an_error_in_the_record_never_a_500(
    proxied: Server, headers: dict[str, str]
) -> None:
    found = _cert_of(proxied, headers)
    assert found is None or found["sha256"] is None or len(found["sha256"]) == 64
    if found is not None and found["subject"] is None and found["sans"] is None:
        assert found.get("error") or found["source"] == "google-cloud-load-balancer"
    line = proxied.wait_for_lines(lambda line: line.get("httpRequest", {}).get("status") == 200)
    assert line


def test_without_trusted_hops_every_header_is_ignored(server: Server) -> None:
    headers = {
        "Client-Cert": f":{_b64(CLIENT.der)}:",
        "X-Forwarded-Client-Cert": f'Cert="{quote(CLIENT.pem, safe="")}"',
        "X-Forwarded-Tls-Client-Cert": quote_plus("".join(CLIENT.pem.splitlines()[1:-1])),
        "X-SSL-Client-Cert": quote(CLIENT.pem, safe=""),
        "X-Client-Cert-Present": "true",
    }
    assert _cert_of(server, headers) is None


def test_the_log_line_holds_the_certificate(proxied: Server) -> None:
    response = requests.get(
        f"{proxied.url}/get", headers={"Client-Cert": f":{_b64(CLIENT.der)}:"}, timeout=5
    )
    line = proxied.line_for(response.headers["X-Request-Id"])
    assert line["request"]["client_cert"]["sha256"] == CLIENT.sha256
