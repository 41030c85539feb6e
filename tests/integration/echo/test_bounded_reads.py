"""Bounded reads through real gunicorn: clients that stop sending hold no thread.

64 connections stall in their request head and 64 in their body while /health and
an echo are asked for throughout, on fresh and kept-alive connections: every probe
is answered. Each stalled connection is then closed by its timeout: the head ones
with a JSON 408 and a WARNING line naming the peer, the body ones with the app's
408 and an exchange line (WARNING) holding what did arrive.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support.server import Server

STALLED = 64
HEADER_TIMEOUT = 3.0
BODY_TIMEOUT = 4.0
HEAD = b"GET /anything HTTP/1.1\r\nHost: x\r\nX-Stalled: head\r\n"
BODY_HEAD = b"POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"


@pytest.fixture(scope="module")
def bounded(make_module_server: MakeServer) -> Server:
    """One worker with the default 8 threads and short read bounds."""
    return make_module_server(
        {
            "ECHO_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
            "ECHO_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        }
    )


def _stall(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(data)
    return sock


def _read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    with sock:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


class Prober:
    """Asks for /health and an echo until stopped, on fresh and kept-alive connections."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._stop = threading.Event()
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        kept = requests.Session()
        turn = 0
        while not self._stop.is_set():
            client: Any = kept if turn % 2 else requests  # a fresh connection every other time
            for method, path, body in (("GET", "/health", None), ("POST", "/anything", b"ok")):
                started = time.monotonic()
                try:
                    response = client.request(method, f"{self._url}{path}", data=body, timeout=10)
                    assert response.status_code == 200, response.status_code
                except (requests.RequestException, AssertionError) as error:
                    self.failures.append(f"{method} {path}: {error!r}")
                self.latencies.append(time.monotonic() - started)
            turn += 1
            time.sleep(0.02)


@pytest.fixture
def stalled(bounded: Server) -> Iterator[tuple[list[socket.socket], list[socket.socket]]]:
    heads = [_stall(bounded.port, HEAD) for _ in range(STALLED)]
    bodies = [_stall(bounded.port, BODY_HEAD + b"ab") for _ in range(STALLED)]
    yield heads, bodies
    for sock in heads + bodies:
        sock.close()


def test_stalled_connections_hold_no_thread_and_are_closed_by_their_timeouts(
    bounded: Server, stalled: tuple[list[socket.socket], list[socket.socket]]
) -> None:
    heads, bodies = stalled
    peers = {f"127.0.0.1:{sock.getsockname()[1]}" for sock in heads}
    with Prober(bounded.url) as prober:
        answers = [_read_to_close(sock) for sock in heads + bodies]  # each closed by the server
    assert not prober.failures, prober.failures[:5]
    assert len(prober.latencies) > 20  # probed throughout, not once
    latencies = sorted(prober.latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"\n{len(latencies)} probes, p50 {latencies[len(latencies) // 2]:.4f}s, p99 {p99:.4f}s")

    for answer in answers[:STALLED]:  # the heads: gunicorn never saw a request
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer[:100]
        body = json.loads(answer.partition(b"\r\n\r\n")[2])
        assert body["status"] == 408 and "did not arrive within 3 seconds" in body["detail"]
    warned = bounded.wait_for_lines(
        lambda line: line.get("severity") == "WARNING" and "request head from" in line["message"],
        STALLED,
    )
    named = {line["message"].split()[3] for line in warned[-STALLED:]}
    assert named == peers  # one line per stalled connection, naming its peer

    for answer in answers[STALLED:]:  # the bodies: the app answered with what arrived
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
        assert b"\r\nConnection: close\r\n" in answer
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["status"] == 408
    lines = bounded.wait_for_lines(
        lambda line: (
            line.get("httpRequest", {}).get("status") == 408
            and line["request"]["body_expected_size"] == 1000
        ),
        STALLED,
    )
    assert len(lines) == STALLED
    for line in lines:
        assert line["severity"] == "WARNING"
        record = line["request"]
        assert (record["data"], record["body_size"]) == ("ab", 2)
        assert (record["body_complete"], record["body_expected_size"]) == (False, 1000)
    assert requests.get(f"{bounded.url}/health", timeout=5).status_code == 200


def test_a_head_sent_slowly_but_in_time_is_served(bounded: Server) -> None:
    sock = _stall(bounded.port, b"GET /anything?slow=1 HTTP/1.1\r\n")
    time.sleep(HEADER_TIMEOUT / 3)
    sock.sendall(b"Host: x\r\n")
    time.sleep(HEADER_TIMEOUT / 3)
    sock.sendall(b"Connection: close\r\n\r\n")
    answer = _read_to_close(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["args"] == {"slow": "1"}


def test_a_body_that_keeps_arriving_is_served_past_the_body_timeout(bounded: Server) -> None:
    # The bound is on progress: a body trickling in slower than the timeout in total is fine.
    sock = _stall(bounded.port, b"POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n")
    for piece in (b"ab", b"cd", b"ef"):
        time.sleep(BODY_TIMEOUT / 2.5)
        sock.sendall(piece)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")  # pipelined
    answer = _read_to_close(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b'"data":"abcdef"' in answer and answer.count(b"HTTP/1.1 200 OK\r\n") == 2


def test_a_large_body_read_by_the_thread_is_bounded_too(bounded: Server) -> None:
    # Over 1 MiB the body is left to the serving thread; a stall still ends it with a 408.
    size = 2 * 1024 * 1024
    sock = _stall(
        bounded.port,
        b"POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size + b"x" * 4096,
    )
    answer = _read_to_close(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
    request_id = answer.split(b"X-Request-Id: ", 1)[1].split(b"\r\n", 1)[0].decode()
    record = bounded.line_for(request_id)["request"]
    assert (record["body_size"], record["body_complete"]) == (4096, False)


def test_a_client_that_reads_no_answer_is_let_go(bounded: Server) -> None:
    # The answer stays unread: once the socket buffers are full, the write makes no
    # progress for the body timeout and the thread gives the connection up.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", bounded.port))
    body = b"x" * 8_000_000  # echoed back: far more than the socket buffers hold
    sock.sendall(b"POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
    sock.sendall(body)
    lines = bounded.wait_for_lines(
        lambda line: "read none of its response" in str(line.get("message")), 1, timeout=30
    )
    assert lines[0]["severity"] == "WARNING" and "127.0.0.1:" in lines[0]["message"]
    sock.close()
    assert requests.get(f"{bounded.url}/health", timeout=5).status_code == 200


def test_an_http2_request_sent_with_the_preface_is_served(bounded: Server) -> None:
    # The event loop reads the connection preface; a request that came in the same
    # segment must reach gunicorn's HTTP/2 connection along with it.
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    headers = [(":method", "GET"), (":path", "/anything?h2=1"), (":scheme", "http")]
    client.send_headers(1, [*headers, (":authority", "x")], end_stream=True)
    sock = socket.create_connection(("127.0.0.1", bounded.port), timeout=10)
    with sock:
        sock.sendall(client.data_to_send())  # preface, SETTINGS and HEADERS in one write
        status, body = None, b""
        while True:
            events = client.receive_data(sock.recv(65536))
            for event in events:
                if isinstance(event, h2.events.ResponseReceived):
                    status = dict(event.headers)[b":status"]
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
            sock.sendall(client.data_to_send())
            if any(isinstance(event, h2.events.StreamEnded) for event in events):
                break
    assert status == b"200" and json.loads(body)["args"] == {"h2": "1"}


def test_requests_sent_back_to_back_are_answered_in_order_and_a_half_head_behind_them_gets_408(
    bounded: Server,
) -> None:
    # Whole requests already waiting when a thread finishes are served by it at once; a
    # half head behind them goes back to the loop, whose header timeout still applies.
    whole = (
        b"".join(b"GET /anything?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % n for n in range(5))
        + b"POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    )
    sock = _stall(bounded.port, whole + HEAD)
    answer = _read_to_close(sock)
    parts = answer.split(b"HTTP/1.1 ")[1:]
    assert [part[:3] for part in parts] == [b"200"] * 6 + [b"408"]
    assert [json.loads(p.partition(b"\r\n\r\n")[2])["args"] for p in parts[:5]] == [
        {"n": str(n)} for n in range(5)
    ]
    assert b'"data":"abc"' in parts[5]
