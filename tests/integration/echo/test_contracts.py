"""The contracts users' tools rely on, through a real gunicorn: Cloud Logging, Error Reporting,
OpenTelemetry labels, browser safety, gunicorn's own refusals, compressed bodies, CORS."""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support import raw
from tests.support.otlp import OtlpReceiver
from tests.support.prom import DURATION, scrape, total
from tests.support.server import Server, free_port

LINE_LIMIT = 250_000
SIGNED = {
    "X-Goog-Signature": "goog-sig-0123456789",
    "X-Goog-Credential": "goog-cred-0123456789",
    "X-Amz-Credential": "amz-cred-0123456789",
    "X-Amz-Security-Token": "amz-token-0123456789",
    "X-Amz-Signature": "amz-sig-0123456789",
    "AWSAccessKeyId": "aws-key-0123456789",
    "Signature": "plain-sig-0123456789",
}
ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def live(receiver: OtlpReceiver, make_module_server: MakeServer) -> Server:
    return make_module_server(
        {**receiver.env(), "ECHO_CORS_ORIGIN": f"{ORIGIN}, https://admin.example",
         "ECHO_MAX_BODY_BYTES": "1048576"}
    )  # fmt: skip


def _raw_exchange_line(server: Server, request_id: str) -> str:
    server.line_for(request_id)
    (line,) = [
        text
        for text in server.lines()
        if f'"uuid":"{request_id}"' in text and "httpRequest" in text
    ]
    return line


def test_hostile_headers_give_one_bounded_valid_line(live: Server) -> None:
    headers = [(f"X-Quote-{index}".encode(), b'"' * 8000) for index in range(95)]
    headers.append((b"Cookie", "; ".join(f"c{index}=v" for index in range(900)).encode()))
    response = raw.request(live.port, b"/anything", headers=headers)
    assert response is not None and response.status == 200
    line = _raw_exchange_line(live, response.headers["x-request-id"])
    assert len(line.encode()) <= LINE_LIMIT
    parsed = json.loads(line)
    assert "X-Quote-7" in parsed["request"]["cut"]["header_values"]
    assert parsed["request"]["cut"]["cookies_dropped"] > 0
    assert len(response.json()["headers"]["X-Quote-7"]) == 8000  # the caller sees it whole


def test_time_on_every_line_and_no_bare_trace_id(live: Server) -> None:
    requests.get(
        f"{live.url}/anything",
        headers={"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"},
        timeout=5,
    )
    requests.get(f"{live.url}/status/abc", timeout=5)
    lines = live.json_lines()
    assert lines and all(line["time"].endswith("Z") and "timestamp" not in line for line in lines)
    assert not [line for line in lines if "logging.googleapis.com/trace" in line]


def test_error_type_and_url_scheme_labels(live: Server) -> None:
    for path in ("/status/503", "/status/503", "/status/404"):
        requests.get(f"{live.url}{path}", timeout=5)
    samples = scrape(live.url)
    route = {"http_route": "/status/<code>", "url_scheme": "http"}
    assert (
        total(
            samples, f"{DURATION}_count", http_response_status_code="503", error_type="503", **route
        )
        == 2
    )
    assert (
        total(samples, f"{DURATION}_count", http_response_status_code="404", error_type="", **route)
        == 1
    )


def test_signed_url_credentials_reach_no_log_and_no_span(
    live: Server, receiver: OtlpReceiver
) -> None:
    response = requests.get(f"{live.url}/anything/signed", params=SIGNED, timeout=5)
    assert (
        response.json()["args"]["X-Goog-Signature"] == SIGNED["X-Goog-Signature"]
    )  # caller sees it
    live.line_for(response.headers["X-Request-Id"])
    (span,) = receiver.wait_for(1, **{"name": "GET /anything/<path:path>"})
    output = live.output()
    for value in SIGNED.values():
        assert value not in output
        assert value not in json.dumps(span.attributes)


@pytest.mark.parametrize(
    "kind", ["text/html", "image/svg+xml", "application/xml", "text/html; charset=utf-8"]
)
def test_active_content_is_refused(live: Server, kind: str) -> None:
    response = requests.get(
        f"{live.url}/anything",
        params={"x-set-response-content-type": kind, "q": "<script>alert(1)</script>"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert "x-set-response-content-type" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/anything"), ("GET", "/status/500"), ("GET", "/status/abc"), ("GET", "/status/204"),
     ("GET", "/health"), ("GET", "/metrics"), ("POST", "/health"), ("GET", "/openapi.json")],
)  # fmt: skip
def test_nosniff_on_every_response(live: Server, method: str, path: str) -> None:
    response = requests.request(method, f"{live.url}{path}", timeout=5)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: 1\r\n" % n for n in range(120))
            + b"\r\n",
            431,
        ),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
        (b"G{T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ],
)
def test_gunicorn_refusals_are_json_with_one_json_line(
    live: Server, data: bytes, status: int
) -> None:
    time.sleep(0.2)  # earlier exchange lines out of the log writer (50 ms) before counting
    before = len(live.lines())
    response = raw.send(live.port, data)
    assert response is not None and response.status == status
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    payload = response.json()
    assert set(payload) == {"error", "status", "detail"} and payload["status"] == status
    deadline = time.monotonic() + 5
    while len(live.lines()) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # a second line, if any, would be out by now
    new = [json.loads(line) for line in live.lines()[before:]]
    assert len(new) == 1 and new[0]["severity"] == "WARNING" and "time" in new[0], new


def test_gzip_json_body_is_decoded(live: Server) -> None:
    plain = json.dumps({"hello": "world"}).encode()
    response = requests.post(
        f"{live.url}/anything",
        data=gzip.compress(plain),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        timeout=5,
    )
    record = response.json()
    assert (record["json"], record["content_encoding"], record["decoded_size"]) == (
        {"hello": "world"},
        "gzip",
        len(plain),
    )


def _worker_rss_kib(server: Server) -> int:
    (pid,) = server.worker_pids()
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_gzip_bomb_is_a_413_and_memory_stays_flat(live: Server) -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    requests.post(f"{live.url}/anything", data=b"warm-up", timeout=5)
    before = _worker_rss_kib(live)
    for _ in range(3):
        response = requests.post(
            f"{live.url}/anything", data=bomb, headers={"Content-Encoding": "gzip"}, timeout=10
        )
        assert response.status_code == 413
        assert response.json()["status"] == 413
    growth = _worker_rss_kib(live) - before
    print(f"\nworker RSS growth after three 20 MB gzip bombs (limit 1 MiB): {growth} KiB")
    assert growth < 8 * 1024  # far below the 20 MB a full inflate would take


def test_credentials_cors_for_a_listed_origin_only(live: Server) -> None:
    listed = requests.get(
        f"{live.url}/anything", headers={"Origin": ORIGIN, "Cookie": "s=1"}, timeout=5
    )
    assert listed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert listed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in listed.headers["Vary"]
    unlisted = requests.get(
        f"{live.url}/anything", headers={"Origin": "https://evil.example"}, timeout=5
    )
    assert not [name for name in unlisted.headers if name.lower().startswith("access-control-")]


class LateMetadata:
    """A metadata server that is down (connection refused) until `start()` is called."""

    def __init__(self, project: str) -> None:
        self.port = free_port()
        self.project = project
        self.asked = 0
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.asked += self.path.endswith("/project-id")  # not the instance facts
                body = fake.project.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


def test_project_is_found_when_the_metadata_server_comes_back(make_server: MakeServer) -> None:
    metadata = LateMetadata("late-project")
    server = make_server({"K_SERVICE": "svc", "GCE_METADATA_HOST": f"127.0.0.1:{metadata.port}"})
    try:
        first = requests.get(f"{server.url}/anything", timeout=5)
        assert "logging.googleapis.com/trace" not in server.line_for(first.headers["X-Request-Id"])
        metadata.start()
        deadline, field = time.monotonic() + 10, None
        while field is None and time.monotonic() < deadline:
            response = requests.get(f"{server.url}/anything", timeout=5)
            field = server.line_for(response.headers["X-Request-Id"]).get(
                "logging.googleapis.com/trace"
            )
            time.sleep(0.2)
        assert field == f"projects/late-project/traces/{response.json()['trace']['trace_id']}"
        assert metadata.asked == 1  # asked again only until it answered
    finally:
        metadata.close()
