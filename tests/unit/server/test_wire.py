"""The serving thread's side of an exchange, on real sockets and gunicorn's own body readers."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.unreader import SocketUnreader

from service.server import wire

HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Type: application/json\r\n\r\n"


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    with server, client:
        yield server, client


def _body(server: socket.socket, chunked: bool, expected: int | None) -> wire.RecordedBody:
    source = wire.BoundedSource(server)
    unreader = SocketUnreader(source)
    reader = (
        ChunkedReader(SimpleNamespace(), unreader) if chunked else LengthReader(unreader, expected)
    )
    return wire.RecordedBody(source, None if chunked else expected, lambda: None).wrap(Body(reader))


def _read_all(body: wire.RecordedBody) -> bytes:
    return b"".join(iter(lambda: body.read(4), b""))


@pytest.mark.parametrize(
    ("chunked", "sent", "arrived"),
    [
        (False, b"abc", b"abc"),
        (True, b"5\r\nhello\r\n3\r\nab", b"helloab"),
        (True, b"2\r\nhi", b"hi"),
    ],
)
def test_a_body_cut_short_ends_with_what_arrived(
    pair: tuple[socket.socket, socket.socket], chunked: bool, sent: bytes, arrived: bytes
) -> None:
    server, client = pair
    body = _body(server, chunked, 10)
    client.sendall(sent)
    client.shutdown(socket.SHUT_WR)
    assert (_read_all(body), body.complete, body.received) == (arrived, False, len(arrived))


@pytest.mark.parametrize(
    ("chunked", "sent"), [(False, b"0123456789"), (True, b"3\r\n012\r\n7\r\n3456789\r\n0\r\n\r\n")]
)
def test_a_whole_body_is_complete(
    pair: tuple[socket.socket, socket.socket], chunked: bool, sent: bytes
) -> None:
    server, client = pair
    body = _body(server, chunked, 10)
    client.sendall(sent)
    assert (_read_all(body), body.complete) == (b"0123456789", True)


def test_a_stalled_body_ends_too_and_says_so(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 100_000))
    exchange = _wire(server, [("CONTENT-LENGTH", "10")])
    client.sendall(b"abc")
    assert (_read_all(exchange.body), exchange.body_complete) == (b"abc", False)
    assert exchange.body_timed_out and exchange.closes


def test_a_malformed_chunk_still_fails(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    body = _body(server, True, None)
    client.sendall(b"zz\r\nabc\r\n")
    with pytest.raises(Exception, match="zz"):
        _read_all(body)


def _wire(server: socket.socket, headers: list[tuple[str, str]]) -> wire.Wire:
    source = wire.BoundedSource(server)
    exchange = wire.Wire(server, source, headers)
    length = next((int(v) for n, v in headers if n == "CONTENT-LENGTH"), 0)
    exchange.body.wrap(Body(LengthReader(SocketUnreader(source), length)))
    return exchange


def test_100_continue_waits_for_the_first_read_of_a_body(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    exchange = _wire(server, [("CONTENT-LENGTH", "2")])
    assert exchange.send(wire.CONTINUE) == len(wire.CONTINUE)  # gunicorn's, held back
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(100)
    client.setblocking(True)
    client.sendall(b"ok")
    assert exchange.body.read() == b"ok"
    assert client.recv(100) == wire.CONTINUE


def test_no_100_continue_without_a_body(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    exchange = _wire(server, [])
    exchange.send(wire.CONTINUE)
    assert exchange.body.read() == b"" and exchange.body.complete is True
    exchange.sendall(HEAD)
    exchange.flush()  # as the worker does when the exchange ends
    assert client.recv(1000) == HEAD  # the answer, and no 100 before it


@pytest.mark.parametrize(
    ("fault", "seen"),
    [
        ("truncate", HEAD + b"01234"),
        ("malformed", wire.MALFORMED_STATUS_LINE + HEAD.partition(b"\r\n")[2] + b"0123456789"),
        ("close", b""),
    ],
)
def test_a_fault_changes_what_is_written(
    pair: tuple[socket.socket, socket.socket], fault: str, seen: bytes
) -> None:
    server, client = pair
    exchange = _wire(server, [])
    exchange.break_with(fault)
    exchange.sendall(HEAD)
    exchange.sendall(b"01234")
    exchange.sendall(b"56789")
    assert exchange.finish(keep_alive=True) is False  # a faulted connection is never reused
    server.shutdown(socket.SHUT_WR)
    assert b"".join(iter(lambda: client.recv(100), b"")) == seen


def test_reset_aborts_the_connection() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, socket.create_connection(listener.getsockname()) as client:
        server, _ = listener.accept()
        exchange = _wire(server, [])
        exchange.break_with("reset")
        exchange.sendall(HEAD)
        exchange.finish(keep_alive=True)
        with pytest.raises(ConnectionResetError):
            client.recv(100)


def test_an_unknown_fault_is_refused(pair: tuple[socket.socket, socket.socket]) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        _wire(pair[0], []).break_with("slow")  # the app's to do, not the server's


class _Sends:
    """The server's socket, counting its sends (each one a syscall and a segment)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sent: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sent.append(bytes(data))
        self.sock.sendall(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self.sock, name)


def _counted(server: socket.socket) -> tuple[wire.Wire, _Sends]:
    sends = _Sends(server)
    exchange = wire.Wire(sends, wire.BoundedSource(server), [])  # type: ignore[arg-type]
    return exchange, sends


def test_the_head_leaves_with_the_first_body_bytes(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    exchange, sends = _counted(server)
    exchange.sendall(HEAD)
    assert sends.sent == []  # held until the body starts
    exchange.sendall(b"0123456789")
    exchange.sendall(b"more")
    exchange.flush()
    assert sends.sent == [HEAD + b"0123456789", b"more"]
    assert client.recv(1000) == HEAD + b"0123456789more"


def test_a_head_without_body_bytes_is_sent_by_flush_or_any_other_use(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, _ = pair
    exchange, sends = _counted(server)
    exchange.sendall(HEAD)
    exchange.flush()
    assert sends.sent == [HEAD]
    other, sends = _counted(server)
    other.sendall(HEAD)
    other.fileno()  # the socket is wanted for something else (sendfile, a session, a peek)
    assert sends.sent == [HEAD]


def test_informational_heads_and_large_bodies_are_not_held(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    exchange, sends = _counted(server)
    early = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
    exchange.sendall(early)
    assert sends.sent == [early]  # sent at once: that is its point
    assert client.recv(1000) == early
    big, sends = _counted(server)
    big.sendall(HEAD)
    body = b"x" * (1 << 17)
    received = []
    reader = threading.Thread(target=lambda: received.append(_read(client, len(HEAD + body))))
    reader.start()
    big.sendall(body)
    reader.join()
    assert sends.sent == [HEAD, body]  # not copied into one
    assert received == [HEAD + body]


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += sock.recv(size)
    return data


def test_a_drain_timeout_reaches_the_socket_only_when_the_drain_reads(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    source = wire.BoundedSource(server)
    source.settimeout(0.2)  # gunicorn's finish_body, before reading what is left of a body
    assert (source.gettimeout(), server.gettimeout()) == (0.2, None)
    client.sendall(b"ab")
    assert source.recv(10) == b"ab" and server.gettimeout() == 0.2
    assert source.recv(10) == b"" and source.stalled  # nothing more within the drain's bound
    source.settimeout(None)  # and after it
    assert server.gettimeout() is None
