"""What arrived, reported as it arrived: bodies cut short, Expect: 100-continue, forms, newlines."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support import raw
from tests.support.server import Server

MAX_BODY = 4096
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@pytest.fixture(scope="module")
def bodies(make_module_server: MakeServer) -> Server:
    return make_module_server({"ECHO_MAX_BODY_BYTES": str(MAX_BODY)})


def _exchange_line(server: Server, response: raw.RawResponse) -> dict[str, object]:
    return server.line_for(response.headers["x-request-id"])


@pytest.mark.parametrize(
    ("framing", "body", "arrived", "expected"),
    [
        (b"Content-Length: 1000", b'{"a": 1', '{"a": 1', 1000),
        (b"Transfer-Encoding: chunked", b"5\r\nhello\r\n3\r\nab", "helloab", None),
        (b"Transfer-Encoding: chunked", b"5\r\nhello\r\n", "hello", None),
        (b"Transfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n", "hello", None),
    ],
    ids=["content-length", "mid-chunk", "no-last-chunk", "no-trailer-end"],
)
def test_a_body_cut_short_is_a_400_naming_both_sizes_and_logged_as_it_arrived(
    bodies: Server, framing: bytes, body: bytes, arrived: str, expected: int | None
) -> None:
    head = b"POST /anything HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    response = raw.send(bodies.port, head + framing + b"\r\n\r\n" + body, half_close=True)
    assert response is not None and response.status == 400
    assert response.headers["connection"] == "close"
    detail = response.json()["detail"]
    assert f"after {len(arrived)} " in detail
    assert (f"of the {expected} bytes" in detail) if expected else ("last chunk" in detail)
    line = _exchange_line(bodies, response)
    assert line["severity"] == "WARNING"
    record = line["request"]
    assert isinstance(record, dict)
    assert (record["data"], record["body_size"]) == (arrived, len(arrived))
    assert (record["body_complete"], record["body_expected_size"]) == (False, expected)
    assert record["json"] is None  # nothing is parsed out of half a body


@pytest.mark.parametrize(
    ("framing", "body"),
    [
        (b"Content-Length: 5", b"hello"),
        (b"Transfer-Encoding: chunked", raw.chunked([b"hel", b"lo"])),
    ],
)
def test_a_whole_body_is_complete(bodies: Server, framing: bytes, body: bytes) -> None:
    response = raw.send(
        bodies.port,
        b"POST /anything HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + framing
        + b"\r\n\r\n"
        + body,
    )
    assert response is not None and response.status == 200
    record = response.json()
    expected = 5 if framing.startswith(b"Content-Length") else None
    assert (record["data"], record["body_complete"], record["body_expected_size"]) == (
        "hello",
        True,
        expected,
    )


def test_a_request_without_a_body_is_complete(bodies: Server) -> None:
    record = requests.get(f"{bodies.url}/anything", timeout=5).json()
    assert (record["body_complete"], record["body_expected_size"]) == (True, None)


def _expect(port: int, head: bytes) -> tuple[socket.socket, bytes]:
    """Send a head with Expect: 100-continue; return the socket and the first answer bytes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head + b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
    return sock, sock.recv(65536)


def test_expect_100_continue_asks_for_the_body_and_echoes_it(bodies: Server) -> None:
    sock, first = _expect(
        bodies.port, b"POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    )
    with sock:
        assert first == CONTINUE  # nothing else before the body is sent
        sock.sendall(b"hello")
        answer = raw.parse(first[len(CONTINUE) :] + _read_all(sock))
    assert answer.status == 200 and answer.json()["data"] == "hello"


@pytest.mark.parametrize(
    "head",
    [
        b"POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n",
        b"GET /anything HTTP/1.1\r\nHost: x\r\n",
        b"PUT /anything HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n",
    ],
    ids=["zero-length", "no-body", "http-1.0"],
)
def test_expect_without_a_body_gets_no_100(bodies: Server, head: bytes) -> None:
    sock, first = _expect(bodies.port, head)
    with sock:
        answer = first + _read_all(sock)
    assert not answer.startswith(b"HTTP/1.1 100")
    assert raw.parse(answer).status == 200


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % (MAX_BODY + 1), 413),
        (b"POST /anything?x-set-response-status-code=abc HTTP/1.1\r\nHost: x\r\n"
         b"Content-Length: 5\r\n", 400),
        (b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n", 405),
    ],
    ids=["too-large", "bad-control", "wrong-method"],
)  # fmt: skip
def test_a_refusal_decided_from_the_head_is_sent_instead_of_100(
    bodies: Server, head: bytes, status: int
) -> None:
    sock, first = _expect(bodies.port, head)
    with sock:
        answer = first + _read_all(sock)
    assert not answer.startswith(b"HTTP/1.1 100"), answer[:80]
    response = raw.parse(answer)
    assert response.status == status and response.json()["status"] == status


def test_an_undecodable_form_is_said_not_parsed(bodies: Server) -> None:
    for body in (b"%ZZ", b"a=1&b=%", b"name=%ff%fe"):
        record = requests.post(
            f"{bodies.url}/anything",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=5,
        ).json()
        assert record["form"] == {} and record["data"] == body.decode("latin-1")
        assert record["form_error"], body
    good = requests.post(f"{bodies.url}/anything", data={"a": "é"}, timeout=5).json()
    assert good["form"] == {"a": "é"} and "form_error" not in good


@pytest.mark.parametrize(
    "path",
    ["/anything", "/status/404", "/health", "/get", "/anything?x-set-response-status-code=abc"],
)
def test_json_answers_end_with_a_newline(bodies: Server, path: str) -> None:
    response = requests.get(f"{bodies.url}{path}", timeout=5)
    assert response.content.endswith(b"}\n") and not response.content.endswith(b"\n\n")
    json.loads(response.content)
    assert int(response.headers["Content-Length"]) == len(response.content)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
