"""Replies the caller writes (x-set-response-body, x-set-response-header) through gunicorn.

The body is text or base64 bytes, the headers repeatable; what frames the message,
is hop-by-hop, is CORS or is echoscope's own is a JSON 400 naming it, and the
media-type and redirect rules hold. The exchange line and the history keep the
request's record and say the reply was the caller's.
"""

from __future__ import annotations

import base64
import urllib.parse

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support import raw
from tests.support.server import Server

TOKEN = "written-reply-token-0c1d"
BODY = "x-set-response-body"
HEADER = "x-set-response-header"


@pytest.fixture(scope="module")
def inspected(make_module_server: MakeServer) -> Server:
    return make_module_server(
        {"ECHO_INSPECT_TOKEN": TOKEN, "ECHO_REDIRECT_HOSTS": "allowed.example"}
    )


def _get(server: Server, path: str, **kwargs: object) -> requests.Response:
    return requests.get(server.url + path, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_a_text_body_from_the_query(inspected: Server) -> None:
    response = _get(inspected, "/anything/hook?" + urllib.parse.urlencode({BODY: "accepted ✓"}))
    assert response.status_code == 200
    assert response.content == "accepted ✓".encode()
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Request-Id"] and response.headers["X-Content-Type-Options"]


def test_a_text_body_from_a_header_keeps_its_bytes(inspected: Server) -> None:
    body = "grüße".encode()
    request = b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Set-Response-Body: " + body
    answer = raw.send(inspected.port, request + b"\r\n\r\n")
    assert answer is not None and answer.status == 200 and answer.body == body


def test_base64_bytes_and_the_status_and_type_controls(inspected: Server) -> None:
    payload = bytes(range(256))
    query = urllib.parse.urlencode(
        {
            BODY: "base64:" + base64.urlsafe_b64encode(payload).decode().rstrip("="),
            "x-set-response-status-code": "202",
        }
    )
    response = requests.post(f"{inspected.url}/webhook?{query}", data=b"ignored", timeout=5)
    assert (response.status_code, response.content) == (202, payload)
    assert response.headers["Content-Type"] == "application/octet-stream"
    typed = _get(
        inspected,
        "/",
        headers={BODY: '{"ok": true}', "x-set-response-content-type": "application/json"},
    )
    assert typed.json() == {"ok": True} and typed.headers["Content-Type"] == "application/json"


def test_headers_repeat_in_the_query_and_on_the_wire(inspected: Server) -> None:
    query = urllib.parse.urlencode(
        [(HEADER, "X-One: 1"), (HEADER, "Cache-Control: no-cache, no-store"), (BODY, "b")]
    )
    response = _get(inspected, f"/anything?{query}")
    assert response.headers["X-One"] == "1"
    assert response.headers["Cache-Control"] == "no-cache, no-store"
    wire = raw.send(
        inspected.port,
        b"GET /anything HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        b"X-Set-Response-Header: X-One: 1\r\nX-Set-Response-Header: X-Two: 2, X-Three: 3\r\n"
        b"X-Set-Response-Header: Set-Cookie: a=b\r\n\r\n",
    )
    assert wire is not None and wire.status == 200
    assert (wire.headers["x-one"], wire.headers["x-two"], wire.headers["x-three"]) == (
        "1",
        "2",
        "3",
    )
    assert wire.headers["set-cookie"] == "a=b"
    assert wire.json()["path"] == "/anything"  # headers alone: the record stays the body


def test_headers_alone_keep_the_record_and_may_set_its_type(inspected: Server) -> None:
    response = _get(
        inspected, "/anything", headers={HEADER: "Content-Type: application/problem+json"}
    )
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["headers"][HEADER.title()] == "Content-Type: application/problem+json"


@pytest.mark.parametrize(
    ("header", "named"),
    [("Content-Length: 1", "Content-Length"), ("Transfer-Encoding: chunked", "Transfer-Encoding"),
     ("Connection: close", "Connection"), ("Keep-Alive: timeout=5", "Keep-Alive"),
     ("Upgrade: h2c", "Upgrade"), ("TE: trailers", "TE"), ("Trailer: X-Sum", "Trailer"),
     ("Proxy-Authenticate: Basic", "Proxy-Authenticate"),
     ("Access-Control-Allow-Origin: https://evil.example", "Access-Control-Allow-Origin"),
     ("X-Request-Id: forged", "X-Request-Id"), ("traceresponse: 00-x", "traceresponse"),
     ("X-Content-Type-Options: none", "X-Content-Type-Options"),
     ("Refresh: 0; url=https://evil.example", "Refresh"),
     ("Location: https://evil.example/", "https://evil.example/"),
     ("Location: //evil.example/", "//evil.example/"),
     ("Content-Type: text/html", "text/html"), ("Content-Type: image/svg+xml", "image/svg+xml"),
     ("Bad Name: x", "Bad Name"), ("X-A: caf\u00e9", "caf"), ("no colon", "no colon")],
)  # fmt: skip
def test_refused_headers_are_a_json_400_naming_them(
    inspected: Server, header: str, named: str
) -> None:
    for sent in ({"params": {HEADER: header}}, {"params": {HEADER: header, BODY: "x"}}):
        response = _get(inspected, "/anything", **sent)
        assert response.status_code == 400, header
        assert response.headers["Content-Type"] == "application/json"
        assert named in response.json()["detail"]
        name, _, value = header.partition(":")
        assert response.headers.get(name) != value.strip()  # never sent as written


def test_allowed_redirects(inspected: Server) -> None:
    for location in ("/get", "https://allowed.example/x"):
        query = {HEADER: f"Location: {location}", "x-set-response-status-code": "302", BODY: ""}
        response = _get(inspected, "/anything", params=query, allow_redirects=False)
        assert (response.status_code, response.headers["Location"]) == (302, location)


def test_the_body_is_bounded_and_base64_checked(inspected: Server) -> None:
    assert _get(inspected, "/", headers={BODY: "a" * 4096}).content == b"a" * 4096
    too_big = _get(inspected, "/", headers={BODY: "a" * 4097})
    assert too_big.status_code == 400 and "4096" in too_big.json()["detail"]
    exact = base64.b64encode(b"z" * 4096).decode()
    assert _get(inspected, "/", headers={BODY: "base64:" + exact}).content == b"z" * 4096
    encoded = base64.b64encode(b"z" * 4097).decode()
    assert _get(inspected, "/", headers={BODY: "base64:" + encoded}).status_code == 400
    bad = _get(inspected, "/", params={BODY: "base64:not base64!"})
    assert bad.status_code == 400 and BODY in bad.json()["detail"]
    many = "Cache-Control: a, " + ", ".join(f"X-H{i}: {i}" for i in range(40))
    assert _get(inspected, "/", headers={HEADER: many}).status_code == 400


def test_the_line_and_the_history_hold_the_record_and_name_the_caller(inspected: Server) -> None:
    response = requests.post(
        f"{inspected.url}/webhooks/stripe?{BODY}=thanks",
        json={"event": "paid"},
        headers={HEADER: "X-Handled-By: test"},
        timeout=5,
    )
    uuid = response.headers["X-Request-Id"]
    line = inspected.line_for(uuid)
    assert line["request"]["json"] == {"event": "paid"}
    assert line["request"]["path"] == "/webhooks/stripe"
    assert line["response"]["written_by"] == "caller"
    assert line["response"]["body"] == "thanks" and "body_ref" not in line["response"]
    assert line["response"]["headers"]["X-Handled-By"] == "test"
    entry = {}
    for _ in range(100):
        found = requests.get(
            f"{inspected.url}/_echoscope/exchanges/{uuid}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        )
        if found.status_code == 200:
            entry = found.json()
            break
    assert entry["request"]["json"] == {"event": "paid"}
    assert entry["response"]["written_by"] == "caller"
    plain = _get(inspected, "/anything")
    assert "written_by" not in inspected.line_for(plain.headers["X-Request-Id"])["response"]
