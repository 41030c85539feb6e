"""HTTP/2 end to end: h2c on the port, through real gunicorn (2 workers), with real HTTP/2 clients.

httpx (http2=True, prior knowledge), curl (--http2-prior-knowledge, and --http2,
which upgrades), and a hand-driven hyper-h2 client for what those do not show
(trailers, SETTINGS, hand-made pseudo-headers). Every behaviour of the echo holds
over HTTP/2, and the record, line, span and metrics say which protocol came.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support import raw
from tests.support.constants import NO_METADATA, TRACEPARENT
from tests.support.h2client import H2Client
from tests.support.listener import Listener
from tests.support.otlp import OtlpReceiver
from tests.support.server import Server

MAX_BODY = 10 * 1024 * 1024  # the default ECHO_MAX_BODY_BYTES
TOKEN = "h2-inspector-token-41c2"
SETTINGS = {  # what config/gunicorn.conf.py states (README, "HTTP/2")
    3: 100,  # SETTINGS_MAX_CONCURRENT_STREAMS
    4: 65535,  # SETTINGS_INITIAL_WINDOW_SIZE
    5: 16384,  # SETTINGS_MAX_FRAME_SIZE
    6: 65536,  # SETTINGS_MAX_HEADER_LIST_SIZE
}


@pytest.fixture(scope="module")
def target() -> Iterator[Listener]:
    """Where /call may call."""
    listener = Listener()
    yield listener


@pytest.fixture(scope="module")
def h2(make_module_server: MakeServer, receiver: OtlpReceiver, target: Listener) -> Server:
    env = {
        **receiver.env(),
        **NO_METADATA,
        "ECHO_INSPECT_TOKEN": TOKEN,
        "ECHO_CALL_TARGETS": target.url,
    }
    return make_module_server(env, workers=2)


@pytest.fixture
def client(h2: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=h2.url, http1=False, http2=True, timeout=20) as c:
        yield c


def curl() -> str:
    path = shutil.which("curl")
    assert path, "curl is needed (`make tools` installs it)"
    features = subprocess.run([path, "-V"], capture_output=True, text=True, check=True).stdout
    assert "HTTP2" in features, f"this curl has no HTTP/2 (`make tools`): {features}"
    return path


# ---------------------------------------------------------------- the record says what came


def test_prior_knowledge_echo_shows_the_protocol_and_what_http1_cannot(
    client: httpx.Client, h2: Server
) -> None:
    response = client.get("/anything/x?q=1", headers={"X-Second": "2", "X-First": "1"})
    assert response.http_version == "HTTP/2"
    record = response.json()
    assert record["protocol"] == "HTTP/2"
    facts = record["http2"]
    assert facts["negotiation"] == "prior-knowledge"
    assert facts["stream_id"] % 2 == 1  # client-initiated streams are odd
    assert facts["pseudo_headers"] == {
        ":method": "GET",
        ":scheme": "http",
        ":authority": f"127.0.0.1:{h2.port}",
    }  # no :path: it is the record's path and query (redacted in logs)
    names = facts["header_names"]
    assert names.index("x-second") < names.index("x-first")  # in the order sent, as sent
    assert all(name == name.lower() for name in names)
    assert "Version" not in record["headers"]  # gunicorn's marker, not something the client sent
    assert record["headers"]["Host"] == f"127.0.0.1:{h2.port}"  # :authority stands for Host
    assert record["path"] == "/anything/x" and record["args"] == {"q": "1"}


def test_http_1_1_on_the_same_port_is_unchanged(h2: Server) -> None:
    record = requests.get(f"{h2.url}/anything", timeout=5).json()
    assert record["protocol"] == "HTTP/1.1"
    assert record["http2"] is None


def test_curl_prior_knowledge_the_check_cloud_run_documents(h2: Server) -> None:
    out = subprocess.run(
        [curl(), "-sS", "-i", "--http2-prior-knowledge", f"{h2.url}/anything"],
        capture_output=True,
        check=True,
        timeout=20,
    ).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/2 200")
    assert json.loads(body)["protocol"] == "HTTP/2"


def test_curl_upgrade_h2c_is_served_as_http2_stream_1(h2: Server) -> None:
    out = subprocess.run(
        [curl(), "-sS", "--http2", "-d", "a=1", f"{h2.url}/anything"],
        capture_output=True,
        check=True,
        timeout=20,
    ).stdout
    record = json.loads(out)
    assert record["protocol"] == "HTTP/2"
    assert record["http2"]["negotiation"] == "upgrade"
    assert record["http2"]["stream_id"] == 1
    assert record["form"] == {"a": "1"}  # the upgrade request's body arrives


def test_scheme_pseudo_header_is_shown_not_trusted_and_version_is_the_clients(h2: Server) -> None:
    with H2Client(h2.port) as client:
        response = client.request(
            "GET",
            "/anything",
            [(b"version", b"7")],
            pseudo=[
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":path", b"/anything"),
                (b":authority", b"echo.example"),
            ],
        )
    record = response.json()
    assert record["http2"]["pseudo_headers"][":scheme"] == "https"
    assert record["scheme"] == "http"  # the transport's; X-Forwarded-Proto needs trusted hops
    assert record["host"] == "echo.example"
    assert record["headers"]["Version"] == "7"  # the client's own header, not gunicorn's "2"


def test_forwarding_headers_stay_untrusted_over_both_protocols(
    client: httpx.Client, h2: Server
) -> None:
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    for record in (
        client.get("/anything", headers=forged).json(),
        requests.get(f"{h2.url}/anything", headers=forged, timeout=5).json(),
    ):
        assert record["scheme"] == "http"
        assert record["client_ip"] == "127.0.0.1"


# ---------------------------------------------------------------- line, span, metrics


def test_line_and_span_say_http2(client: httpx.Client, h2: Server, receiver: OtlpReceiver) -> None:
    trace_id = TRACEPARENT.split("-")[1]
    response = client.get("/anything/span", headers={"traceparent": TRACEPARENT})
    line = h2.line_for(response.headers["x-request-id"])
    assert line["httpRequest"]["protocol"] == "HTTP/2"
    assert line["request"]["protocol"] == "HTTP/2"
    span = receiver.wait_for(1, trace_id=trace_id, name="GET /anything/<path:path>")[0]
    assert span.attributes["network.protocol.version"] == "2"
    assert span.attributes["http.response.status_code"] == 200


def test_the_request_is_counted_under_its_route(client: httpx.Client) -> None:
    client.get("/status/418")
    metrics = client.get("/metrics").text
    assert 'http_route="/status/<code>"' in metrics
    assert 'http_response_status_code="418"' in metrics


# ---------------------------------------------------------------- bodies and their limit


def test_a_10_mib_body_is_echoed_as_over_http_1_1(client: httpx.Client) -> None:
    body = b"x" * MAX_BODY
    record = client.post("/anything", content=body).json()
    assert record["body_size"] == MAX_BODY
    assert record["protocol"] == "HTTP/2"


def test_a_body_over_the_limit_is_a_json_413(client: httpx.Client) -> None:
    response = client.post("/anything", content=b"x" * (MAX_BODY + 1))
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_a_body_over_the_limit_without_a_length_is_a_json_413(h2: Server) -> None:
    # hyper-h2 by hand: httpx keeps waiting for window credit after an early answer.
    with H2Client(h2.port, timeout=60) as client:  # 10 MiB of pure-Python HTTP/2 each side
        response = client.request("POST", "/anything", [], b"y" * (MAX_BODY + 65536))
    assert response.status == 413
    assert response.json()["error"] == "Request Entity Too Large"
    assert response.reset in (None, 0)  # at most RST_STREAM(NO_ERROR): "stop sending"


# ---------------------------------------------------------------- controls, errors, streams


def test_controls_and_errors_hold(client: httpx.Client) -> None:
    asked = client.get("/anything", headers={"x-set-response-status-code": "503"})
    assert asked.status_code == 503
    typed = client.get("/anything?x-set-response-content-type=text/plain")
    assert typed.headers["content-type"] == "text/plain"
    wrong = client.post("/health")
    assert wrong.status_code == 405 and wrong.json()["status"] == 405
    assert client.get("/status/999").json()["status"] == 400


def test_streams_and_server_sent_events_arrive_whole(client: httpx.Client) -> None:
    lines = client.get("/stream/3").text.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [0, 1, 2]
    assert len(client.get("/drip?numbytes=5&duration=0.2&delay=0").content) == 5
    events = client.get("/sse?count=2&duration=0.1").text
    assert events.count("event: ping") == 2


def test_trailers_arrive_as_http2_trailers(h2: Server) -> None:
    with H2Client(h2.port) as client:
        response = client.request(
            "GET", "/trailers?X-Checksum=abc&Server-Timing=total", [(b"te", b"trailers")]
        )
    assert response.status == 200
    assert response.trailers == {"x-checksum": "abc", "server-timing": "total"}
    assert response.json()["headers"]["Te"] == "trailers"


def test_the_inspector_over_http2(client: httpx.Client) -> None:
    request_id = client.get("/anything/inspected").headers["x-request-id"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    deadline = time.monotonic() + 10  # the history is written behind the answer
    found = client.get(f"/_echoscope/exchanges/{request_id}", headers=auth)
    while found.status_code == 404 and time.monotonic() < deadline:
        time.sleep(0.05)
        found = client.get(f"/_echoscope/exchanges/{request_id}", headers=auth)
    assert found.status_code == 200
    assert found.json()["request"]["protocol"] == "HTTP/2"
    with client.stream("GET", "/_echoscope/exchanges/stream", headers=auth) as events:
        assert events.headers["content-type"].startswith("text/event-stream")


def test_call_over_http2(client: httpx.Client, target: Listener) -> None:
    answer = client.get("/call", params={"url": f"{target.url}/downstream"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["protocol"] == "HTTP/2"
    assert body["calls"][0]["status"] == 200
    assert target.wait_for(1)[-1].path == "/downstream"


# ---------------------------------------------------------------- HTTP/2's own bounds


def test_the_stated_http2_settings_are_advertised(h2: Server) -> None:
    with H2Client(h2.port) as client:
        settings = client.wait_for_settings()
    assert {code: settings.get(code) for code in SETTINGS} == SETTINGS


def test_a_header_list_over_the_limit_is_refused_and_the_server_stays_sound(h2: Server) -> None:
    headers = [(b"x-big-%d" % i, b"v" * 4000) for i in range(20)]  # 80 kB > 64 KiB
    with H2Client(h2.port) as client:
        response = client.request("GET", "/anything", headers)
    assert response.status is None or response.status == 431, response
    assert requests.get(f"{h2.url}/health", timeout=5).status_code == 200


# ---------------------------------------------------------------- ECHO_HTTP2=false


def test_http2_off_refuses_h2c_cleanly(make_server: MakeServer) -> None:
    off = make_server({"ECHO_HTTP2": "false"})
    refused = raw.send(off.port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", timeout=5)
    assert refused is not None and refused.status == 400
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["status"] == 400
    upgrade = subprocess.run(
        [curl(), "-sS", "--http2", f"{off.url}/anything"], capture_output=True, timeout=20
    )
    record = json.loads(upgrade.stdout)
    assert record["protocol"] == "HTTP/1.1"  # Upgrade: h2c is ignored, the request served
    assert record["http2"] is None
