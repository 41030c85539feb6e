"""How echoscope's worker closes a connection: FIN first, then the peer's side, in the loop.

gunicorn's close waits up to 2 s for the peer to close its side, blocking
the event loop meanwhile. Here the loop sends FIN and goes on; the
connection stays registered until the peer closes (or the linger expires,
eventloop.BoundedWorker's deadlines), reading and dropping what it still sends.
No Flask here.
"""

from __future__ import annotations

import selectors
import socket
import time
from functools import partial
from typing import Any

from service.server.client import Client, Deadlines

LINGER = 2.0  # how long a closing connection may take to close its side (gunicorn's)
RECV = 65536


class Closing:
    """Worker mixin (before gunicorn's ThreadWorker): closing and dropping connections."""

    poller: Any
    nr_conns: int
    _deadlines: Deadlines

    def _close(self, conn: Client) -> None:
        """Send FIN, then let the peer close its side (or the linger expire) in the loop."""
        conn.turn += 1
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_closing, conn))
        except (OSError, ValueError):
            self._drop(conn)
            return
        conn.closing = True
        self._deadlines.set(conn, time.monotonic() + LINGER)

    def _on_closing(self, conn: Client, _: Any) -> None:
        try:
            if conn.sock.recv(RECV, socket.MSG_DONTWAIT):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self.poller.unregister(conn.sock)
        self._drop(conn)

    def _drop(self, conn: Client) -> None:
        conn.turn += 1
        self.nr_conns -= 1
        conn.close()
