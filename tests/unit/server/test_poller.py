"""The worker's selector: epoll as `selectors` has it, plus reads watched for one event."""

from __future__ import annotations

import selectors
import socket
from collections.abc import Iterator

import pytest

from service.server.client import ConnSocket
from service.server.poller import Poller


@pytest.fixture
def poller() -> Iterator[Poller]:
    selector = Poller()
    yield selector
    selector.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def _ready(poller: Poller) -> list[object]:
    return [key.data for key, _ in poller.select(0)]


def _fired(poller: Poller, pair: tuple[socket.socket, socket.socket], data: str) -> None:
    """Watch our end once, send it a byte, and see the one event."""
    ours, theirs = pair
    poller.watch_once(ours, data)
    theirs.send(b"x")
    assert _ready(poller) == [data]


def test_a_registration_is_level_triggered_as_in_selectors(poller: Poller, pair: tuple) -> None:
    ours, theirs = pair
    poller.register(ours, selectors.EVENT_READ, "ours")
    assert _ready(poller) == []
    theirs.send(b"x")
    assert poller.select(0) == [(poller.get_key(ours), selectors.EVENT_READ)]
    assert _ready(poller) == ["ours"]  # still unread: still ready
    ours.recv(1)
    assert _ready(poller) == []
    assert poller.unregister(ours).data == "ours"
    assert ours not in poller.get_map()


def test_a_read_watched_once_fires_once(poller: Poller, pair: tuple) -> None:
    ours, theirs = pair
    _fired(poller, pair, "once")
    poller.unregister(ours)  # as the loop does when a whole request is in
    theirs.send(b"y")
    assert _ready(poller) == []
    assert len(poller.get_map()) == 0


def test_a_read_watched_once_and_left_registered_is_watched_again(
    poller: Poller, pair: tuple
) -> None:
    # The loop keeps a connection whose head or body is still arriving.
    ours, theirs = pair
    _fired(poller, pair, "once")
    ours.recv(1)
    assert _ready(poller) == []
    theirs.send(b"y")
    assert _ready(poller) == ["once"]


def test_a_parked_connection_is_watched_again_with_what_arrived_meanwhile(
    poller: Poller, pair: tuple
) -> None:
    ours, theirs = pair
    _fired(poller, pair, "first request")
    ours.recv(1)
    poller.unregister(ours)  # a thread serves it; meanwhile the next request arrives
    theirs.send(b"2")
    assert _ready(poller) == []
    poller.watch_once(ours, "next request")
    assert _ready(poller) == ["next request"]
    ours.recv(1)
    poller.unregister(ours)
    poller.register(ours, selectors.EVENT_READ, "closing")  # level-triggered from here
    theirs.send(b"3")
    assert _ready(poller) == ["closing"]
    assert _ready(poller) == ["closing"]


def test_a_parked_descriptor_closed_and_reused_is_registered_afresh(poller: Poller) -> None:
    first, peer = socket.socketpair()
    poller.watch_once(first, "first")
    peer.send(b"x")
    assert _ready(poller) == ["first"]
    poller.unregister(first)
    number = first.fileno()
    first.close()  # the kernel drops it from the epoll set
    peer.close()
    again, other = socket.socketpair()
    try:
        assert number in (again.fileno(), other.fileno())
        reused = again if again.fileno() == number else other
        poller.watch_once(reused, "reused")
        (other if reused is again else again).send(b"y")
        assert _ready(poller) == ["reused"]
    finally:
        again.close()
        other.close()


def test_a_closed_socket_is_unregistered_by_identity(poller: Poller, pair: tuple) -> None:
    ours, _ = pair
    spare = ours.dup()
    poller.register(spare, selectors.EVENT_READ, "spare")
    spare.close()
    assert poller.get_map()[spare].data == "spare"
    assert poller.unregister(spare).data == "spare"
    with pytest.raises(KeyError):
        poller.unregister(ours)


def test_registering_twice_or_for_nothing_is_refused(poller: Poller, pair: tuple) -> None:
    ours, _ = pair
    with pytest.raises(ValueError):
        poller.register(ours, 0)
    poller.register(ours, selectors.EVENT_READ)
    with pytest.raises(KeyError):
        poller.watch_once(ours, None)


def test_a_writable_registration_reports_writable(poller: Poller, pair: tuple) -> None:
    ours, _ = pair
    poller.register(ours, selectors.EVENT_READ | selectors.EVENT_WRITE, "both")
    assert poller.select(0) == [(poller.get_key(ours), selectors.EVENT_WRITE)]


def test_an_accepted_socket_changes_mode_only_when_asked_for_another(pair: tuple) -> None:
    ours, theirs = pair
    sock = ConnSocket.adopt(ours)
    try:
        assert ours.fileno() == -1 and sock.getblocking()
        sock.setblocking(True)  # the mode it has: nothing to change
        assert sock.getblocking()
        sock.setblocking(False)
        assert not sock.getblocking()
        with pytest.raises(BlockingIOError):
            sock.recv(1)
        sock.settimeout(0.01)
        sock.setblocking(True)
        assert sock.gettimeout() is None
        theirs.send(b"x")
        assert sock.recv(1) == b"x"
    finally:
        sock.close()
