"""The HTTP interface through a real gunicorn process: endpoints, record fields, limits, bad input."""

from __future__ import annotations

import hashlib
import re
import socket
import time

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support.constants import NO_METADATA, RECORD_FIELDS, TRACE_ID, TRACEPARENT
from tests.support.server import Server


@pytest.fixture(scope="module")
def limited(make_module_server: MakeServer) -> Server:
    """A server with small limits and one trusted proxy hop."""
    return make_module_server(
        {
            "ECHO_MAX_BODY_BYTES": "1024",
            "ECHO_MAX_DELAY_SECONDS": "0.2",
            "ECHO_TRUSTED_PROXY_HOPS": "1",
            "ECHO_CORS_ORIGIN": "https://app.example",
            "K_SERVICE": "echo-svc",
            "K_REVISION": "echo-svc-00042",
            **NO_METADATA,
        }
    )


def test_root_is_hello_world_with_the_seed_cookie(server: Server) -> None:
    response = requests.get(f"{server.url}/")
    record = response.json()
    assert list(record)[: len(RECORD_FIELDS)] == RECORD_FIELDS
    assert record["endpoint"] == "hello_world"
    assert response.cookies["echoscope_uuid"] == record["uuid"]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "PROPFIND", "PURGE"])
@pytest.mark.parametrize("path", ["/anything", "/anything/a/b", "/any/path/here", "/"])
def test_any_method_on_any_path_echoes(server: Server, method: str, path: str) -> None:
    response = requests.request(method, f"{server.url}{path}?q=1")
    assert response.status_code == 200
    record = response.json()
    assert (record["method"], record["path"], record["args"]) == (method, path, {"q": "1"})


def test_uuid_is_the_request_id(server: Server) -> None:
    response = requests.get(f"{server.url}/anything")
    assert re.fullmatch(r"[0-9a-f]{32}", response.json()["uuid"])
    assert response.headers["X-Request-Id"] == response.json()["uuid"]


def test_headers_cookies_args_and_form(server: Server) -> None:
    response = requests.post(
        f"{server.url}/anything?a=1&a=2&b=3",
        headers={"X-Custom": "value"},
        cookies={"session": "s1"},
        data={"f": ["x", "y"], "g": "z"},
    )
    record = response.json()
    assert record["headers"]["X-Custom"] == "value"
    assert record["cookies"] == {"session": "s1"}
    assert record["args"] == {"a": ["1", "2"], "b": "3"}
    assert record["form"] == {"f": ["x", "y"], "g": "z"}
    assert record["query_string"] == "a=1&a=2&b=3"
    assert record["url"] == f"{server.url}/anything?a=1&a=2&b=3"
    assert (record["scheme"], record["host"]) == ("http", server.url.split("//")[1])


def test_text_binary_and_json_bodies(server: Server) -> None:
    text = requests.post(f"{server.url}/anything", data="héllo".encode()).json()
    assert (text["data"], text["data_encoding"], text["body_size"]) == ("héllo", "utf-8", 6)
    binary = requests.post(f"{server.url}/anything", data=b"\xff\x00\xfe").json()
    assert (binary["data"], binary["data_encoding"]) == ("/wD+", "base64")
    parsed = requests.post(f"{server.url}/anything", json={"a": [1, 2]}).json()
    assert parsed["json"] == {"a": [1, 2]} and "json_error" not in parsed


@pytest.mark.parametrize("body", [b"{not json", b"[" * 5000 + b"]" * 5000, b'{"a": NaN}', b"\xff"])
def test_bad_json_is_null_with_an_error_not_a_500(server: Server, body: bytes) -> None:
    response = requests.post(
        f"{server.url}/anything", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["json"] is None and response.json()["json_error"]


def test_files_are_hashed_never_echoed(server: Server) -> None:
    content = b"secret file contents " * 1000
    response = requests.post(
        f"{server.url}/anything",
        files={"upload": ("report.bin", content, "application/octet-stream")},
        data={"note": "n"},
    )
    record = response.json()
    assert record["files"] == [
        {
            "field": "upload",
            "filename": "report.bin",
            "content_type": "application/octet-stream",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    ]
    assert record["form"] == {"note": "n"}
    assert b"secret file contents" not in response.content


@pytest.mark.parametrize("code", [200, 201, 302, 400, 418, 500, 503, 599])
def test_status_answers_with_the_code(server: Server, code: int) -> None:
    response = requests.get(f"{server.url}/status/{code}", allow_redirects=False)
    assert response.status_code == code
    assert response.json()["path"] == f"/status/{code}"


@pytest.mark.parametrize("code", [204, 304])
def test_status_without_body(server: Server, code: int) -> None:
    response = requests.get(f"{server.url}/status/{code}")
    assert (response.status_code, response.content) == (code, b"")


@pytest.mark.parametrize("code", ["abc", "99", "199", "600", "1000", "-1", "2e2"])
def test_bad_status_is_a_json_400(server: Server, code: str) -> None:
    response = requests.get(f"{server.url}/status/{code}")
    assert response.status_code == 400
    assert set(response.json()) == {"error", "status", "detail"}


def test_delay_waits_then_echoes(server: Server) -> None:
    started = time.monotonic()
    response = requests.get(f"{server.url}/delay/0.3")
    assert response.status_code == 200 and time.monotonic() - started >= 0.3
    assert response.json()["path"] == "/delay/0.3"


def test_delay_past_the_cap_is_refused_at_once(limited: Server) -> None:
    started = time.monotonic()
    response = requests.get(f"{limited.url}/delay/30", timeout=10)
    assert response.status_code == 400 and "maximum" in response.json()["detail"]
    assert time.monotonic() - started < 5  # refused, never slept
    assert requests.get(f"{limited.url}/delay/150ms", timeout=10).status_code == 200


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf"])
def test_bad_delay_is_a_json_400(server: Server, value: str) -> None:
    response = requests.get(f"{server.url}/delay/{value}")
    assert response.status_code == 400 and response.json()["status"] == 400


@pytest.mark.parametrize("where", ["header", "query"])
def test_response_controls(server: Server, where: str) -> None:
    controls = {
        "x-set-response-status-code": "202",
        "x-set-response-delay-ms": "150",
        "x-set-response-content-type": "text/plain; charset=utf-8",
    }
    started = time.monotonic()
    if where == "header":
        response = requests.get(f"{server.url}/anything", headers=controls)
    else:
        response = requests.get(f"{server.url}/anything", params=controls)
    assert response.status_code == 202
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert time.monotonic() - started >= 0.15


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-set-response-status-code", "abc"),
        ("x-set-response-status-code", "99"),
        ("x-set-response-status-code", "1000"),
        ("x-set-response-status-code", "-200"),
        ("x-set-response-delay-ms", "-5"),
        ("x-set-response-delay-ms", "abc"),
        ("x-set-response-content-type", "not a type"),
    ],
)
def test_bad_control_is_a_json_400(server: Server, name: str, value: str) -> None:
    for response in (
        requests.get(f"{server.url}/anything", headers={name: value}),
        requests.get(f"{server.url}/anything", params={name: value}),
    ):
        assert response.status_code == 400
        assert response.json()["status"] == 400 and name in response.json()["detail"]


def test_oversize_body_with_content_length_is_a_json_413(limited: Server) -> None:
    response = requests.post(f"{limited.url}/anything", data=b"x" * 2048)
    assert response.status_code == 413 and response.json()["status"] == 413


def test_oversize_chunked_body_is_a_json_413(limited: Server) -> None:
    response = requests.post(f"{limited.url}/anything", data=iter([b"x" * 600] * 4))
    assert response.status_code == 413 and response.json()["error"] == "Request Entity Too Large"


def test_chunked_body_within_the_limit_echoes(limited: Server) -> None:
    response = requests.post(f"{limited.url}/anything", data=iter([b"ab", b"cd"]))
    assert response.json()["data"] == "abcd"


def test_client_ip_from_trusted_forwarded_for(limited: Server) -> None:
    record = requests.get(
        f"{limited.url}/anything", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    ).json()
    assert (record["client_ip"], record["remote_addr"]) == ("198.51.100.7", "127.0.0.1")


def test_forwarded_for_is_ignored_without_trusted_hops(server: Server) -> None:
    record = requests.get(
        f"{server.url}/anything", headers={"X-Forwarded-For": "203.0.113.9"}
    ).json()
    assert record["client_ip"] == "127.0.0.1"


def test_server_identity_from_cloud_run(limited: Server) -> None:
    server_info = requests.get(f"{limited.url}/anything").json()["server"]
    assert (server_info["service"], server_info["revision"]) == ("echo-svc", "echo-svc-00042")
    assert re.fullmatch(r"[0-9a-f]{32}", server_info["instance"])


def test_trace_context_in_the_record(server: Server) -> None:
    response = requests.get(f"{server.url}/anything", headers={"traceparent": TRACEPARENT})
    trace = response.json()["trace"]
    assert trace["trace_id"] == TRACE_ID and trace["sampled"] is True
    assert response.headers["traceresponse"] == f"00-{trace['trace_id']}-{trace['span_id']}-01"


def test_health(server: Server) -> None:
    response = requests.get(f"{server.url}/health")
    assert response.json() == {"status": "ok"} and response.headers["X-Request-Id"]


def test_cors_and_preflight(limited: Server, server: Server) -> None:
    assert requests.get(f"{server.url}/anything").headers["Access-Control-Allow-Origin"] == "*"
    preflight = requests.options(
        f"{limited.url}/anything",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "x-custom",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert preflight.headers["Access-Control-Allow-Methods"] == "PUT"
    assert preflight.headers["Access-Control-Allow-Headers"] == "x-custom"


@pytest.mark.parametrize(
    ("method", "path", "status"), [("POST", "/health", 405), ("DELETE", "/metrics", 405)]
)
def test_errors_are_json_never_html(server: Server, method: str, path: str, status: int) -> None:
    response = requests.request(method, f"{server.url}{path}")
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["status"] == status and "<html" not in response.text.lower()


def test_no_debugger_console(server: Server) -> None:
    response = requests.get(f"{server.url}/console")
    assert response.json()["path"] == "/console"  # an echo, not the Werkzeug debugger


def test_repeated_headers_are_joined(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"GET /anything HTTP/1.1\r\nHost: x\r\nX-Twice: a\r\nX-Twice: b\r\nConnection: close\r\n\r\n"
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    assert b'"X-Twice":"a, b"' in raw or b'"X-Twice":"a,b"' in raw
