"""The live feed: Server-Sent Events of the exchanges stored after a cursor.

Each stream polls the shared store (every worker's and, with Redis, every
instance's exchanges arrive there), sends a heartbeat comment when idle, and ends
after `lifetime` seconds: the client reconnects with `Last-Event-ID` and misses
nothing. A stream holds its worker thread and nothing else; the number of open
streams per worker is capped so that they never take every thread.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import structlog

from service.inspector.store import Found, Store, StoreError

_BATCH = 100
_log = structlog.get_logger("echoscope.inspector")


class LiveFeed:
    """Opens event streams over `store`, at most `max_streams` at a time."""

    def __init__(
        self,
        store: Store,
        present: Callable[[Found], dict[str, Any]],
        max_streams: int,
        lifetime: float = 45.0,  # under Cloud Run's usual 60 s request timeout
        poll: float = 0.5,
        heartbeat: float = 10.0,
    ) -> None:
        self._store = store
        self._present = present
        self._slots = threading.BoundedSemaphore(max_streams)
        self._lifetime, self._poll, self._heartbeat = lifetime, poll, heartbeat

    def reserve(self) -> bool:
        """Take a stream slot; False when every slot is taken."""
        return self._slots.acquire(blocking=False)

    def events(self, cursor: str, gone: Callable[[], bool]) -> Iterator[bytes]:
        """The stream after `cursor`, for a reserved slot (given back when the stream ends).

        `gone()` tells that the client hung up: the stream ends at the next poll
        rather than at the next heartbeat that fails to be written.
        """
        try:
            yield f"retry: 1000\n: live until {self._lifetime:.0f}s\n\n".encode()
            yield from self._follow(cursor, gone)
        finally:
            self._slots.release()

    def _follow(self, cursor: str, gone: Callable[[], bool]) -> Iterator[bytes]:
        deadline = time.monotonic() + self._lifetime
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and not gone():
            try:
                found = self._store.after(cursor, _BATCH)
            except StoreError as error:
                _log.warning("history store failed during a live stream", error=str(error))
                yield b"event: unavailable\ndata: {}\n\n"
                return
            for item in found:
                yield _event(item.cursor, self._present(item))
                cursor = item.cursor
            if found:
                quiet_since = time.monotonic()
                continue
            if time.monotonic() - quiet_since >= self._heartbeat:
                yield b": heartbeat\n\n"  # also finds a client that went away
                quiet_since = time.monotonic()
            time.sleep(self._poll)


def peer_closed(sock: socket.socket | None) -> bool:
    """True when the client closed its end of `sock` (a peek, never a read)."""
    if sock is None:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, ValueError):  # nothing to read; a TLS socket takes no flags
        return False
    except OSError:
        return True


def _event(cursor: str, document: dict[str, Any]) -> bytes:
    # orjson never writes a line break, so the document is one `data:` line.
    return (
        b"id: " + cursor.encode() + b"\nevent: exchange\ndata: " + orjson.dumps(document) + b"\n\n"
    )
