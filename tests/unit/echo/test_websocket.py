"""The WebSocket session on a real socket pair (wsproto as the client), and the view's checks."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request
from werkzeug.datastructures import MultiDict
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage

from service.echo.websocket import accept_token, limits_of
from service.echo.wssession import Limits, Session
from service.exchange.outcome import MAX_EVENTS, SessionSummary
from tests.unit.conftest import MakeEcho

HANDSHAKE = {
    "Upgrade": "websocket",
    "Connection": "keep-alive, Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


class Peer:
    """The client end: wsproto framing over one end of a socket pair."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.ws = Connection(ConnectionType.CLIENT)

    def send(self, *events: Event) -> None:
        self.sock.sendall(b"".join(self.ws.send(event) for event in events))

    def receive(self) -> list[Event]:
        """Everything the server sends until it closes the connection."""
        events: list[Event] = []
        while data := self.sock.recv(65536):
            self.ws.receive_data(data)
            events.extend(self.ws.events())
        return events


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    client.settimeout(10)
    yield server, client
    server.close()
    client.close()


class Served:
    """A session running in a thread on the server end, as gunicorn's thread would run it."""

    def __init__(
        self, sock: socket.socket, limits: Limits, stopping: Any = None, first: Any = None
    ) -> None:
        self._sock = sock
        self._summary: list[SessionSummary] = []
        self._thread = threading.Thread(target=self._run, args=(limits, stopping, first))
        self._thread.start()

    def _run(self, limits: Limits, stopping: Any, first: Any) -> None:
        self._summary.append(Session(self._sock, limits, stopping).run(first))
        self._sock.shutdown(socket.SHUT_RDWR)

    def summary(self) -> SessionSummary:
        self._thread.join(10)
        return self._summary[0]


def test_messages_are_echoed_and_counted(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    served = Served(server, Limits(100, 1000, 10))
    peer = Peer(client)
    peer.send(
        TextMessage("ünï"),
        BytesMessage(b"\x00\x01"),
        Ping(b"hi"),
        CloseConnection(1000, "bye"),
    )
    events = peer.receive()
    assert [type(event) for event in events] == [TextMessage, BytesMessage, Pong, CloseConnection]
    assert events[0].data == "ünï" and events[1].data == b"\x00\x01"  # type: ignore[attr-defined]
    summary = served.summary()
    assert (summary.messages_received, summary.messages_sent) == (2, 2)
    assert (summary.bytes_received, summary.bytes_sent) == (7, 7)
    assert (summary.close_code, summary.close_reason, summary.closed_by) == (1000, "bye", "client")
    kinds = [(event.direction, event.kind) for event in summary.events]
    assert ("received", "ping") in kinds and ("sent", "pong") in kinds


@pytest.mark.parametrize(
    ("limits", "frames", "code"),
    [
        (Limits(4, 100, 10), [TextMessage("12345")], 1002),
        (Limits(4, 6, 10), [TextMessage("1234", message_finished=False), TextMessage("567")], 1009),
    ],
)
def test_bounds_close_with_go_httpbins_codes(
    pair: tuple[socket.socket, socket.socket], limits: Limits, frames: list[Event], code: int
) -> None:
    server, client = pair
    served = Served(server, limits)
    peer = Peer(client)
    peer.send(*frames)
    closes = [event for event in peer.receive() if isinstance(event, CloseConnection)]
    assert closes[0].code == code
    assert served.summary().closed_by == "server"


def test_a_stopping_worker_closes_with_1001(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    stopping = threading.Event()
    served = Served(server, Limits(100, 100, 10), stopping)
    stopping.set()
    closes = [event for event in Peer(client).receive() if isinstance(event, CloseConnection)]
    assert closes[0].code == 1001
    assert served.summary().close_code == 1001


def test_the_first_message_goes_first_and_long_text_is_framed_whole_characters(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    served = Served(server, Limits(3, 100, 10), first="añb€")
    peer = Peer(client)
    peer.send(CloseConnection(1000))
    messages = [event for event in peer.receive() if isinstance(event, TextMessage)]
    assert "".join(event.data for event in messages) == "añb€"
    assert [event.message_finished for event in messages] == [False, False, True]
    assert served.summary().messages_sent == 1


def test_events_are_bounded(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    served = Served(server, Limits(100, 100, 10))
    peer = Peer(client)
    peer.send(*[TextMessage(str(n)) for n in range(80)], CloseConnection(1000))
    peer.receive()
    summary = served.summary()
    assert len(summary.events) == MAX_EVENTS
    assert summary.events_dropped == 160 + 2 - MAX_EVENTS


# ---------------------------------------------------------------- the view's checks


@pytest.fixture
def app(make_echo: MakeEcho) -> Flask:
    return make_echo({"ECHO_MAX_BODY_BYTES": "1000", "ECHO_THREADS": "2"}).app


def test_limits_default_and_bound_as_go_httpbin() -> None:
    assert limits_of(MultiDict(), 1000, 55) == Limits(500, 1000, 55)
    assert limits_of(MultiDict({"max_fragment_size": "10"}), 1000, 55).max_fragment == 10


def test_the_accept_token_is_rfc_6455s(app: Flask) -> None:
    with app.test_request_context("/websocket/echo", headers=HANDSHAKE):
        assert accept_token(request) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3


def test_without_a_server_to_hand_over_to_it_is_a_json_501(app: Flask) -> None:
    response = app.test_client().get("/websocket/echo", headers=HANDSHAKE)
    assert response.status_code == 501
    assert response.json is not None and response.json["status"] == 501


@pytest.mark.parametrize(
    ("key", "detail"),
    [("", "16 bytes"), ("not base64!", "16 bytes"), ("c2hvcnQ=", "16 bytes")],
)
def test_a_bad_key_is_a_json_400(app: Flask, key: str, detail: str) -> None:
    response = app.test_client().get(
        "/websocket/echo", headers={**HANDSHAKE, "Sec-WebSocket-Key": key}
    )
    assert response.status_code == 400
    assert response.json is not None and detail in response.json["detail"]
