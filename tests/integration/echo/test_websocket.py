"""/websocket/echo through real gunicorn (2 workers) with a real client library (websocket-client).

Echo of text and binary, fragmentation both ways, ping, close codes, the size
and time limits with their close codes, ?record=true, the session's one line,
span and count, the session bound, origin checks, and SIGTERM closing with 1001.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import websocket
from websocket import ABNF

from tests.integration.conftest import MakeServer
from tests.support.constants import NO_METADATA, TRACEPARENT
from tests.support.otlp import OtlpReceiver
from tests.support.server import Server

MAX_BODY = 65536
SERVER_KIND = 2


@pytest.fixture(scope="module")
def ws_server(make_module_server: MakeServer, receiver: OtlpReceiver) -> Server:
    env = {**receiver.env(), **NO_METADATA, "ECHO_MAX_BODY_BYTES": str(MAX_BODY)}
    return make_module_server(env, workers=2)


def connect(server: Server, query: str = "", **options: Any) -> websocket.WebSocket:
    url = f"ws://127.0.0.1:{server.port}/websocket/echo{query}"
    return websocket.create_connection(url, timeout=10, **options)


@pytest.fixture
def ws(ws_server: Server) -> Iterator[websocket.WebSocket]:
    conn = connect(ws_server)
    yield conn
    conn.close()


def close_code(frame_data: bytes) -> tuple[int, str]:
    return struct.unpack("!H", frame_data[:2])[0], frame_data[2:].decode()


def server_close(conn: websocket.WebSocket) -> tuple[int, str]:
    """Read until the server's close frame; its code and reason."""
    while True:
        opcode, data = conn.recv_data(control_frame=True)
        if opcode == ABNF.OPCODE_CLOSE:
            return close_code(data)


# ---------------------------------------------------------------- echo


def test_text_and_binary_are_echoed(ws: websocket.WebSocket) -> None:
    assert ws.getstatus() == 101
    ws.send("héllo wörld ✓")
    assert ws.recv() == "héllo wörld ✓"
    ws.send_binary(bytes(range(256)))
    assert ws.recv() == bytes(range(256))
    ws.send("")
    assert ws.recv() == ""


def test_the_101_carries_the_exchange_ids(ws: websocket.WebSocket) -> None:
    headers = ws.getheaders()
    assert headers["upgrade"].lower() == "websocket"
    assert len(headers["x-request-id"]) == 32
    assert headers["traceresponse"].startswith("00-")
    assert "access-control-allow-origin" not in headers  # CORS does not apply to a WebSocket


def test_a_fragmented_message_is_echoed_whole(ws: websocket.WebSocket) -> None:
    ws.send_frame(ABNF.create_frame("frag", ABNF.OPCODE_TEXT, 0))
    ws.send_frame(ABNF.create_frame("men", ABNF.OPCODE_CONT, 0))
    ws.send_frame(ABNF.create_frame("ted", ABNF.OPCODE_CONT, 1))
    assert ws.recv() == "fragmented"


def test_answers_are_framed_at_max_fragment_size(ws_server: Server) -> None:
    conn = connect(ws_server, "?max_fragment_size=4")  # it bounds the client's frames too
    send_in_frames(conn, [b"0123", b"4567", b"89"], ABNF.OPCODE_BINARY)
    frames = [conn.recv_frame() for _ in range(3)]
    assert [frame.data for frame in frames] == [b"0123", b"4567", b"89"]
    assert [frame.opcode for frame in frames] == [ABNF.OPCODE_BINARY, ABNF.OPCODE_CONT, 0]
    assert [frame.fin for frame in frames] == [0, 0, 1]
    send_in_frames(conn, [b"aaa", "ñb".encode()], ABNF.OPCODE_TEXT)
    texts = [conn.recv_frame() for _ in range(2)]  # ñ is 2 bytes: a frame ends before it
    assert [frame.data for frame in texts] == [b"aaa", "ñb".encode()]
    conn.close()


def send_in_frames(conn: websocket.WebSocket, parts: list[bytes], opcode: int) -> None:
    for number, part in enumerate(parts):
        last = number == len(parts) - 1
        conn.send_frame(ABNF.create_frame(part, opcode if number == 0 else ABNF.OPCODE_CONT, last))


def test_ping_is_answered_with_its_payload(ws: websocket.WebSocket) -> None:
    ws.ping("are you there")
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == ABNF.OPCODE_PONG and data == b"are you there"


@pytest.mark.parametrize(("code", "reason"), [(1000, "bye"), (4000, "app-defined"), (1001, "")])
def test_the_clients_close_code_is_echoed(ws_server: Server, code: int, reason: str) -> None:
    conn = connect(ws_server)
    conn.close(status=code, reason=reason.encode())
    assert conn.close_frame is not None
    assert close_code(conn.close_frame.data) == (code, reason)


# ---------------------------------------------------------------- limits and their close codes


def test_a_frame_over_max_fragment_size_closes_with_1002(ws_server: Server) -> None:
    conn = connect(ws_server, "?max_fragment_size=8&max_message_size=100")
    conn.send("123456789")
    code, reason = server_close(conn)
    assert code == 1002 and "max_fragment_size 8" in reason


def test_a_message_over_max_message_size_closes_with_1009(ws_server: Server) -> None:
    conn = connect(ws_server, "?max_fragment_size=8&max_message_size=12")
    conn.send_frame(ABNF.create_frame("12345678", ABNF.OPCODE_TEXT, 0))
    conn.send_frame(ABNF.create_frame("12345678", ABNF.OPCODE_CONT, 1))
    code, reason = server_close(conn)
    assert code == 1009 and "max_message_size 12" in reason


def test_defaults_follow_the_body_limit(ws: websocket.WebSocket, ws_server: Server) -> None:
    ws.send_binary(b"h" * (MAX_BODY // 2))  # the default max_fragment_size
    assert len(ws.recv()) == MAX_BODY // 2
    big = connect(ws_server)
    big.send_binary(b"h" * (MAX_BODY // 2 + 1))
    assert server_close(big)[0] == 1002


def test_invalid_utf8_in_text_closes_with_1007(ws_server: Server) -> None:
    conn = connect(ws_server)
    conn.send_frame(ABNF.create_frame(b"\xff\xfe", ABNF.OPCODE_TEXT, 1))
    assert server_close(conn)[0] == 1007


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("?max_fragment_size=abc", "invalid max_fragment_size"),
        ("?max_fragment_size=0", "not in range [1, 65536]"),
        (f"?max_message_size={MAX_BODY + 1}", "not in range [1, 65536]"),
        ("?max_fragment_size=10&max_message_size=5", "less than or equal to max_message_size"),
        ("?record=maybe", "invalid record"),
    ],
)
def test_bad_parameters_are_a_json_400_before_the_upgrade(
    ws_server: Server, query: str, detail: str
) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(ws_server, query)
    assert refused.value.status_code == 400
    assert detail in json.loads(refused.value.resp_body)["detail"]


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Upgrade: websocket"),
        ({"Upgrade": "websocket", "Connection": "Upgrade"}, "version"),
        (
            {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13"},
            "Sec-WebSocket-Key",
        ),
    ],
)
def test_a_request_that_is_no_handshake_is_a_json_400(
    ws_server: Server, headers: dict[str, str], detail: str
) -> None:
    response = requests.get(f"{ws_server.url}/websocket/echo", headers=headers, timeout=5)
    assert response.status_code == 400
    assert detail in response.json()["detail"]


def test_other_methods_are_a_405(ws_server: Server) -> None:
    response = requests.post(f"{ws_server.url}/websocket/echo", timeout=5)
    assert response.status_code == 405 and response.headers["Allow"] == "GET"


def test_over_http2_it_is_a_json_400_naming_http_1_1(ws_server: Server) -> None:
    with httpx.Client(http1=False, http2=True) as client:
        response = client.get(f"{ws_server.url}/websocket/echo")
    assert response.status_code == 400
    assert "HTTP/1.1" in response.json()["detail"]


def test_a_session_past_its_length_closes_with_1008(make_server: MakeServer) -> None:
    short = make_server({"ECHO_WEBSOCKET_MAX_SECONDS": "1"})
    conn = connect(short)
    conn.send("still here")
    assert conn.recv() == "still here"
    code, reason = server_close(conn)  # after a second, whatever the client does
    assert code == 1008 and "over 1 s" in reason
    line = short.wait_for_lines(lambda item: item.get("websocket"))[0]
    assert line["websocket"]["closed_by"] == "server"
    assert float(line["httpRequest"]["latency"].rstrip("s")) >= 1


# ---------------------------------------------------------------- ?record=true


def test_record_true_sends_the_upgrade_requests_record_first(ws_server: Server) -> None:
    conn = connect(
        ws_server,
        "?record=true",
        header=["X-Through: proxy-a", f"traceparent: {TRACEPARENT}"],
        cookie="session=abc",
    )
    record = json.loads(conn.recv())
    assert record["path"] == "/websocket/echo"
    assert record["headers"]["X-Through"] == "proxy-a"
    assert record["cookies"] == {"session": "abc"}
    assert record["client_ip"] == "127.0.0.1"
    assert record["trace"]["trace_id"] == TRACEPARENT.split("-")[1]
    assert record["trace_context"]["continued"]
    assert record["protocol"] == "HTTP/1.1"
    assert record["uuid"] == conn.getheaders()["x-request-id"]
    conn.send("then the echo")
    assert conn.recv() == "then the echo"
    conn.close()


# ---------------------------------------------------------------- one exchange per session


def test_a_session_is_one_line_one_span_one_count(
    ws_server: Server, receiver: OtlpReceiver
) -> None:
    trace_id = "5" * 32
    conn = connect(ws_server, header=[f"traceparent: 00-{trace_id}-{'6' * 16}-01"])
    request_id = conn.getheaders()["x-request-id"]
    for text in ("one", "two", "three"):
        conn.send(text)
        conn.recv()
    conn.send_binary(b"\x00" * 10)
    conn.recv()
    conn.ping(b"p")
    conn.recv_data(control_frame=True)
    conn.close(status=1000, reason=b"done")

    line = ws_server.line_for(request_id)
    assert line["httpRequest"]["status"] == 101
    assert line["message"].startswith("GET /websocket/echo 101 ")
    assert line["websocket"] == {
        "messages_received": 4,
        "messages_sent": 4,
        "bytes_received": 21,
        "bytes_sent": 21,
        "close_code": 1000,
        "close_reason": "done",
        "closed_by": "client",
    }
    assert sum(request_id in text for text in ws_server.lines()) == 1  # nothing per message

    span = receiver.wait_for(1, trace_id=trace_id)[0]
    assert span.name == "GET /websocket/echo" and span.kind == SERVER_KIND
    assert span.attributes["http.response.status_code"] == 101
    assert span.attributes["websocket.close.code"] == 1000
    assert span.attributes["websocket.closed_by"] == "client"
    kinds = [(event[1]["message.type"], event[1]["websocket.frame"]) for event in span.events]
    assert kinds.count(("RECEIVED", "text")) == 3 and kinds.count(("SENT", "binary")) == 1
    assert ("RECEIVED", "ping") in kinds and ("SENT", "pong") in kinds
    assert all(event[0] == "message" for event in span.events)

    metrics = requests.get(f"{ws_server.url}/metrics", timeout=5).text
    assert _value(metrics, "http_server_request_duration_seconds_count{", '"/websocket/echo"') >= 1
    assert _value(metrics, 'echoscope_websocket_messages_total{direction="received"}') >= 4
    assert _value(metrics, 'echoscope_websocket_messages_total{direction="sent"}') >= 4


def _value(metrics: str, start: str, contains: str = "") -> float:
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(start) and contains in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_span_events_are_bounded(ws_server: Server, receiver: OtlpReceiver) -> None:
    trace_id = "7" * 32
    conn = connect(ws_server, header=[f"traceparent: 00-{trace_id}-{'6' * 16}-01"])
    for number in range(80):
        conn.send(str(number))
        conn.recv()
    conn.close()
    span = receiver.wait_for(1, trace_id=trace_id)[0]
    assert len(span.events) == 100
    assert span.attributes["websocket.events_dropped"] == 62  # 160 messages + 2 close frames
    assert span.attributes["websocket.messages.received"] == 80


# ---------------------------------------------------------------- bounds on the server


def test_sessions_hold_at_most_half_the_threads(make_server: MakeServer) -> None:
    small = make_server({"ECHO_THREADS": "2"})  # one worker: one session at a time
    first = connect(small)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(small)
    assert refused.value.status_code == 503
    assert refused.value.resp_headers["retry-after"] == "1"
    assert json.loads(refused.value.resp_body)["status"] == 503
    assert requests.get(f"{small.url}/anything", timeout=5).status_code == 200  # still served
    first.close()
    second = _connect_when_free(small)  # the slot frees once the server has seen the close
    second.send("free again")
    assert second.recv() == "free again"
    second.close()


def _connect_when_free(server: Server) -> websocket.WebSocket:
    for _ in range(20):  # as a client honouring Retry-After: 1 would, bounded
        try:
            return connect(server)
        except websocket.WebSocketBadStatusException as refused:
            assert refused.status_code == 503
            time.sleep(0.25)
    return connect(server)


def test_origins_are_checked_as_cors_is_configured(make_server: MakeServer) -> None:
    listed = make_server({"ECHO_CORS_ORIGIN": "https://app.example"})
    connect(listed, origin="https://app.example").close()
    connect(listed, origin=f"http://127.0.0.1:{listed.port}").close()  # same origin
    connect(listed, suppress_origin=True).close()  # not a browser
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(listed, origin="https://evil.example")
    assert refused.value.status_code == 403
    assert "evil.example" in json.loads(refused.value.resp_body)["detail"]


def test_sigterm_closes_sessions_with_1001_within_the_grace_period(make_server: MakeServer) -> None:
    server = make_server(workers=2)
    sessions = [connect(server) for _ in range(3)]
    for conn in sessions:
        conn.send("before")
        assert conn.recv() == "before"
    os.kill(server.proc.pid, signal.SIGTERM)
    for conn in sessions:
        assert server_close(conn) == (1001, "server shutting down")
    assert server.proc.wait(timeout=10) == 0  # Cloud Run's grace period
    lines = [line for line in server.json_lines() if line.get("websocket")]
    assert len(lines) == 3
    assert {line["websocket"]["close_code"] for line in lines} == {1001}
