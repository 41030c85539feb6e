"""The optional TLS listener through gunicorn, with a CA the test makes.

HTTPS on the port with ALPN, the record's scheme and TLS facts, a client
certificate asked for (optional, require) and echoed with source "tls", and a
plain-HTTP client answered with a cleartext JSON 400 instead of a dropped line.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from pathlib import Path

import httpx
import jsonschema_rs
import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support import raw
from tests.support.certs import issue, make_ca
from tests.support.server import ROOT, Server

CA = make_ca()
OTHER_CA = make_ca("some other CA")
CLIENT = issue(CA, "payments-client", uris=("spiffe://mesh/ns/pay/sa/api",))
STRANGER = issue(OTHER_CA, "stranger")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("tls")
    server_cert, server_key = issue(
        CA, "echoscope", dns=("localhost",), ips=("127.0.0.1",), server=True
    ).write(directory, "server")
    ca_cert, _ = CA.write(directory, "ca")
    paths = {"server_cert": server_cert, "server_key": server_key, "ca": ca_cert}
    for name, issued in (("client", CLIENT), ("stranger", STRANGER)):
        paths[f"{name}_cert"], paths[f"{name}_key"] = issued.write(directory, name)
    return {name: str(path) for name, path in paths.items()}


def _tls_env(files: dict[str, str], client_cert: str | None = None) -> dict[str, str]:
    env = {"ECHO_TLS_CERT_FILE": files["server_cert"], "ECHO_TLS_KEY_FILE": files["server_key"]}
    if client_cert:
        env.update(ECHO_TLS_CLIENT_CERT=client_cert, ECHO_TLS_CLIENT_CA_FILE=files["ca"])
    return env


@pytest.fixture(scope="module")
def https(make_module_server: MakeServer, files: dict[str, str]) -> Server:
    return make_module_server(_tls_env(files, "optional"), ca=files["ca"])


@pytest.fixture(scope="module")
def strict(make_module_server: MakeServer, files: dict[str, str]) -> Server:
    client = (files["client_cert"], files["client_key"])  # /health needs one too
    return make_module_server(_tls_env(files, "require"), ca=files["ca"], client=client)


def test_https_with_the_test_ca(https: Server, files: dict[str, str]) -> None:
    response = requests.get(f"{https.url}/anything/secure", verify=files["ca"], timeout=5)
    record = response.json()
    assert response.status_code == 200
    assert record["scheme"] == "https" and record["url"].startswith("https://")
    assert record["tls"]["version"] in ("TLSv1.2", "TLSv1.3") and record["tls"]["cipher"]
    assert record["tls"]["alpn"] == "http/1.1"
    assert record["client_cert"] is None  # optional, and none was sent
    _valid_record(record)
    line = https.line_for(response.headers["X-Request-Id"])
    assert line["request"]["scheme"] == "https" and line["httpRequest"]["requestUrl"].startswith(
        "https://"
    )
    metrics = requests.get(f"{https.url}/metrics", verify=files["ca"], timeout=5).text
    assert 'url_scheme="https"' in metrics


def _valid_record(record: dict[str, object]) -> None:
    document = json.loads((ROOT / "service" / "echo" / "openapi.json").read_text())
    schema = {"$ref": "#/components/schemas/EchoRecord", "components": document["components"]}
    jsonschema_rs.validator_for(schema).validate(record)


def test_alpn_as_curl_negotiates_it(https: Server, files: dict[str, str]) -> None:
    done = subprocess.run(
        ["curl", "-sv", "--http1.1", "--cacert", files["ca"], f"{https.url}/anything"],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ALPN: server accepted http/1.1" in done.stderr
    assert json.loads(done.stdout)["tls"]["alpn"] == "http/1.1"


def test_alpn_h2_serves_http2_over_tls_with_a_client_certificate(
    https: Server, files: dict[str, str]
) -> None:
    cert = (files["client_cert"], files["client_key"])
    with httpx.Client(http2=True, verify=_context(files["ca"], cert)) as client:
        response = client.get(f"{https.url}/anything", timeout=10)
    record = response.json()
    assert response.http_version == "HTTP/2"
    assert record["protocol"] == "HTTP/2" and record["tls"]["alpn"] == "h2"
    assert record["client_cert"]["sha256"] == CLIENT.sha256
    done = subprocess.run(
        ["curl", "-sv", "--http2", "--cacert", files["ca"], f"{https.url}/anything"],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ALPN: server accepted h2" in done.stderr
    assert json.loads(done.stdout)["protocol"] == "HTTP/2"


def _context(ca: str, cert: tuple[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(*cert)
    return context


def test_a_client_certificate_is_echoed(https: Server, files: dict[str, str]) -> None:
    response = requests.get(
        f"{https.url}/anything",
        verify=files["ca"],
        cert=(files["client_cert"], files["client_key"]),
        timeout=5,
    )
    found = response.json()["client_cert"]
    _valid_record(response.json())
    assert found == {
        "source": "tls",
        "subject": "CN=payments-client,O=echoscope tests",
        "issuer": "CN=echoscope test CA,O=echoscope tests",
        "sans": ["URI:spiffe://mesh/ns/pay/sa/api"],
        "serial": CLIENT.serial,
        "not_before": "2026-01-01T00:00:00Z",
        "not_after": "2036-01-01T00:00:00Z",
        "sha256": CLIENT.sha256,
        "verified_by": "the TLS handshake (ECHO_TLS_CLIENT_CA_FILE)",
    }


def test_a_certificate_from_another_ca_fails_the_handshake(
    https: Server, files: dict[str, str]
) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(
            f"{https.url}/anything",
            verify=files["ca"],
            cert=(files["stranger_cert"], files["stranger_key"]),
            timeout=5,
        )
    assert requests.get(f"{https.url}/health", verify=files["ca"], timeout=5).status_code == 200


def test_require_refuses_a_client_without_a_certificate(
    strict: Server, files: dict[str, str]
) -> None:
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        requests.get(f"{strict.url}/anything", verify=files["ca"], timeout=5)
    with_cert = requests.get(
        f"{strict.url}/anything",
        verify=files["ca"],
        cert=(files["client_cert"], files["client_key"]),
        timeout=5,
    )
    assert with_cert.json()["client_cert"]["sha256"] == CLIENT.sha256


def test_a_plain_http_client_is_answered_with_a_json_400(https: Server) -> None:
    answer = raw.send(https.port, b"GET /anything HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer is not None and answer.status == 400 and answer.is_json
    assert "https://" in answer.json()["detail"]
    assert answer.headers["connection"] == "close"
    curl = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{https.port}/"],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    assert curl.stdout == "400"
    https.wait_for_lines(lambda line: "Plain HTTP on the TLS port" in line.get("message", ""))


def test_a_silent_or_broken_client_does_not_stop_the_server(
    https: Server, files: dict[str, str]
) -> None:
    with socket.create_connection(("127.0.0.1", https.port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01\x00\x05hello")  # a TLS record that is no handshake
    context = ssl.create_default_context(cafile=files["ca"])
    with (
        socket.create_connection(("127.0.0.1", https.port), timeout=5) as sock,
        context.wrap_socket(sock, server_hostname="127.0.0.1"),
    ):
        pass  # handshake, then leave
    assert requests.get(f"{https.url}/health", verify=files["ca"], timeout=5).status_code == 200


def test_a_missing_file_stops_start_up_naming_it(tmp_path: Path) -> None:
    env = {"ECHO_TLS_CERT_FILE": str(tmp_path / "none.pem"), "ECHO_TLS_KEY_FILE": "x"}
    server = Server(env, 1)
    assert server.proc.wait(20) == 2
    assert f"invalid ECHO_TLS_CERT_FILE='{tmp_path / 'none.pem'}': no such file" in server.output()
