"""Connection faults on request (x-set-response-fault), as a client sees each, and their telemetry.

Every faulted exchange still has its one exchange line (`response.fault`), its
span (an `echoscope.fault` event) and its count (`error_type` naming the fault).
"""

from __future__ import annotations

import http.client
import secrets
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support import prom, raw
from tests.support.otlp import OtlpReceiver
from tests.support.server import Server

FAULT = "x-set-response-fault"
SLOW_MS = 600


@pytest.fixture(scope="module")
def faulty(make_module_server: MakeServer, receiver: OtlpReceiver) -> Server:
    return make_module_server({**receiver.env(), "ECHO_MAX_DELAY_SECONDS": "2"})


def _request(port: int, fault: str, trace_id: str, extra: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /anything?" + FAULT.encode() + b"=" + fault.encode() + extra + b" HTTP/1.1\r\n"
        b"Host: x\r\nContent-Length: 5\r\n"
        b"traceparent: 00-" + trace_id.encode() + b"-b7ad6b7169203331-01\r\n\r\nhello"
    )
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def trace_id() -> str:
    return secrets.token_hex(16)


def _told(server: Server, receiver: OtlpReceiver, trace_id: str, fault: str) -> None:
    """The exchange's line, span and count each name the fault."""
    line = server.wait_for_lines(
        lambda line: line.get("request", {}).get("trace", {}).get("trace_id") == trace_id
    )[0]
    assert line["response"]["fault"] == fault and line["httpRequest"]["status"] == 200
    span = receiver.wait_for(1, trace_id=trace_id)[0]
    assert ("echoscope.fault", {"echoscope.fault": fault}) in span.events
    assert span.attributes["error.type"] == fault
    count = prom.total(prom.scrape(server.url), f"{prom.DURATION}_count", error_type=fault)
    assert count >= 1


def test_reset_resets_the_connection(faulty: Server, receiver: OtlpReceiver, trace_id: str) -> None:
    with _request(faulty.port, "reset", trace_id) as sock, pytest.raises(ConnectionResetError):
        _read_all(sock)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{faulty.url}/anything?{FAULT}=reset", timeout=5)
    _told(faulty, receiver, trace_id, "reset")


def test_close_closes_without_an_answer(
    faulty: Server, receiver: OtlpReceiver, trace_id: str
) -> None:
    with _request(faulty.port, "close", trace_id) as sock:
        assert _read_all(sock) == b""  # an orderly close, and not one byte
    connection = http.client.HTTPConnection("127.0.0.1", faulty.port, timeout=5)
    connection.request("GET", f"/anything?{FAULT}=close")
    with pytest.raises(http.client.RemoteDisconnected):
        connection.getresponse()
    _told(faulty, receiver, trace_id, "close")


def test_truncate_sends_half_the_promised_body(
    faulty: Server, receiver: OtlpReceiver, trace_id: str
) -> None:
    with _request(faulty.port, "truncate", trace_id) as sock:
        answer = raw.parse(_read_all(sock))
    assert answer.status == 200
    promised = int(answer.headers["content-length"])
    short = answer.raw.partition(b"\r\n\r\n")[2]
    assert len(short) == promised // 2 and short.startswith(b'{"uuid":')
    connection = http.client.HTTPConnection("127.0.0.1", faulty.port, timeout=5)
    connection.request("GET", f"/anything?{FAULT}=truncate")
    with pytest.raises(http.client.IncompleteRead):
        connection.getresponse().read()
    _told(faulty, receiver, trace_id, "truncate")


def test_malformed_sends_an_invalid_status_line(
    faulty: Server, receiver: OtlpReceiver, trace_id: str
) -> None:
    with _request(faulty.port, "malformed", trace_id) as sock:
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 MALFORMED ")
    connection = http.client.HTTPConnection("127.0.0.1", faulty.port, timeout=5)
    connection.request("GET", f"/anything?{FAULT}=malformed")
    with pytest.raises(http.client.BadStatusLine):
        connection.getresponse()
    _told(faulty, receiver, trace_id, "malformed")


def test_slow_drips_the_whole_body_over_the_delay(
    faulty: Server, receiver: OtlpReceiver, trace_id: str
) -> None:
    extra = b"&x-set-response-delay-ms=%d" % SLOW_MS
    with _request(faulty.port, "slow", trace_id, extra) as sock:
        first = sock.recv(65536)
        started, pieces = time.monotonic(), [first]
        while chunk := sock.recv(65536):
            pieces.append(chunk)
            if raw.parse(b"".join(pieces)).body.endswith(b"}\n"):
                break
        took = time.monotonic() - started
    answer = raw.parse(b"".join(pieces))
    assert answer.status == 200 and answer.json()["data"] == "hello"
    assert len(answer.body) == int(answer.headers["content-length"])
    print(f"\nslow: body over {took:.3f}s in {len(pieces)} reads (asked {SLOW_MS} ms)")
    assert took >= SLOW_MS / 1000 * 0.8 and len(pieces) > 2  # a drip, not one write
    _told(faulty, receiver, trace_id, "slow")


def test_an_unknown_fault_is_a_json_400(faulty: Server) -> None:
    for where in ({"params": {FAULT: "explode"}}, {"headers": {FAULT: "explode"}}):
        response = requests.get(f"{faulty.url}/anything", timeout=5, **where)  # type: ignore[arg-type]
        assert response.status_code == 400 and FAULT in response.json()["detail"]


def test_the_fault_may_come_as_a_header(faulty: Server) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{faulty.url}/anything", headers={FAULT: "close"}, timeout=5)
    assert requests.get(f"{faulty.url}/health", timeout=5).status_code == 200


@pytest.fixture(scope="module")
def faultless(make_module_server: MakeServer) -> Iterator[Server]:
    yield make_module_server({"ECHO_FAULTS": "false"})


def test_faults_off_refuses_the_control(faultless: Server) -> None:
    response = requests.get(f"{faultless.url}/anything?{FAULT}=reset", timeout=5)
    assert response.status_code == 403 and "ECHO_FAULTS" in response.json()["detail"]
