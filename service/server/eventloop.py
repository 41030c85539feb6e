"""gunicorn's threaded worker, every read bounded: a client that stops sending holds no thread.

gunicorn 27's gthread worker gives a connection to a thread as soon as it is
readable, and the thread blocks reading the head and body: a few clients that
send half a head (or body) and stop hold every thread. Here the event loop reads
each request (server/readahead.py) and a thread is taken once the head and a
small body have arrived:

- the head must be complete within ECHO_HEADER_TIMEOUT_SECONDS of the first
  byte being awaited; past it the connection gets a JSON 408 and is closed, with
  one WARNING line naming the peer;
- a body read ahead that makes no progress for ECHO_BODY_TIMEOUT_SECONDS goes to
  a thread as it is, marked stalled: the app answers 408 and logs what arrived;
- bodies left to the thread (over 1 MiB, or sent after 100 Continue) and the
  response are bounded the same way by SO_RCVTIMEO / SO_SNDTIMEO;
- connections close without blocking the loop (gunicorn lingers there up to 2 s).

Per keep-alive request the loop makes one recv and one epoll_ctl, the thread one
send: a connection's read is watched for one event (server/poller.py), the
socket is not set blocking again (client.ConnSocket), the threads wake the loop
once per batch of finished requests (server/wakeups.py), and connections go to the
threads on a queue, without futures (server/handoff.py). Each syscall lets
the GIL go to another thread; on gunicorn's gthread machinery as it is, the worker
made six per request (docs/connection.md).

TLS connections keep gunicorn's own handling. No Flask here: the master loads it.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
from functools import partial
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from service.server.client import (
    Client,
    ConnSocket,
    Deadlines,
    Limits,
    error_response,
    max_head,
    peer,
)
from service.server.closing import RECV, Closing
from service.server.exchanges import Exchanges, Serving
from service.server.handoff import HandingOver
from service.server.poller import Poller
from service.server.readahead import MAX_BODY_AHEAD, Phase, ReadAhead
from service.server.settledconfig import SettledConfig
from service.server.wakeups import Wakeups

_STOP_LINGER = 2.0  # how long a stopping worker waits for a request still arriving


class BoundedWorker(Exchanges, Closing, HandingOver, ThreadWorker):  # type: ignore[misc]
    """gthread, reading each request head (and small body) in its event loop."""

    limits = Limits()  # a configured subclass replaces it (config/gunicorn.conf.py)
    wsgi: Any  # gunicorn's: the app
    poller: Any  # gunicorn's selector, then ours (run)
    cfg: Any  # gunicorn's Config, then a SettledConfig over it (__init__)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.method_queue = Wakeups()
        self.cfg = SettledConfig(self.cfg)  # read per request by gunicorn: each value kept

    def init_process(self) -> None:
        self._deadlines = Deadlines()
        self._max_head = max_head(self.cfg)
        self._max_body_ahead = min(MAX_BODY_AHEAD, self.limits.max_body)
        self._stopping = False
        super().init_process()

    def run(self) -> None:
        self.poller.close()  # gunicorn's DefaultSelector, empty until run() registers
        self.poller = Poller()
        super().run()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = Serving(self.wsgi)

    def accept(self, listener: socket.socket) -> None:
        if self.cfg.is_ssl:
            super().accept(listener)
            return
        try:
            sock, client = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = Client(self.cfg, ConnSocket.adopt(sock), client, listener.getsockname(), self.limits)
        conn.on_readable = partial(self._on_readable, conn)
        self._read_head(conn, b"")

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection has bytes: its next request is read here, not in a thread."""
        if self.cfg.is_ssl:
            super().on_client_socket_readable(conn, client)
            return
        self._on_readable(conn, client)

    def _read_head(self, conn: Client, data: bytes) -> None:
        """Start reading a request whose first bytes (`data`, maybe none) are here."""
        if self._begin(conn, data):
            self._hand_over(conn)
            return
        self.poller.watch_once(conn.sock, conn.on_readable)

    def _begin(self, conn: Client, data: bytes) -> bool:
        """A new request on `conn`, `data` its first bytes (maybe none): True when it is
        whole already; else its clock runs (the head's, or the body's once the head is in)."""
        ahead = conn.ahead = ReadAhead(self._max_head, self._max_body_ahead)
        conn.turn += 1
        if data and ahead.feed(data):
            return True
        in_body = bool(data) and ahead.phase is Phase.BODY
        timeout = self.limits.body_timeout if in_body else self._head_timeout()
        self._deadlines.set(conn, time.monotonic() + timeout)
        return False

    def _head_timeout(self) -> float:
        return self.limits.header_timeout if self.alive else _STOP_LINGER

    def _on_readable(self, conn: Client, _: Any) -> None:
        """Bytes (or the end) arrived on a connection the loop holds. A kept-alive one is
        registered with this same callback: its next request is read in this one pass, and
        its head's clock starts only when the head is not whole in the first read."""
        try:
            data = conn.sock.recv(RECV, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        ahead = conn.ahead
        if ahead is None:  # kept alive until now: its next request starts
            self.keepalived_conns.remove(conn)
            if not data:  # closed by the peer between requests
                self.poller.unregister(conn.sock)
                self._drop(conn)
                return
            if self._begin(conn, data):  # registered already: read on in this callback
                self.poller.unregister(conn.sock)
                self._hand_over(conn)
            return
        if not data and ahead.phase is not Phase.BODY:  # gone before a whole head: nothing to say
            self.poller.unregister(conn.sock)
            self._drop(conn)
            return
        was = ahead.phase
        if not data or ahead.feed(data):  # the end of a body cut short is the app's to report
            self.poller.unregister(conn.sock)
            self._hand_over(conn)
        elif ahead.phase is Phase.BODY:  # progress: the body's clock starts again
            conn.deadline = time.monotonic() + self.limits.body_timeout
            if was is Phase.HEAD:
                self._deadlines.set(conn, conn.deadline)

    def _hand_over(self, conn: Client) -> None:
        assert conn.ahead is not None
        data, conn.ahead = bytes(conn.ahead.data), None
        conn.turn += 1
        if conn.initialized:
            conn.parser.unreader.unread(data)
        else:
            conn.handed = data
        conn.data_ready = True
        self.enqueue_req(conn)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        soonest = self._deadlines.soonest()
        if soonest is not None:
            timeout = max(0.0, min(timeout, soonest - time.monotonic()))
        super().wait_for_and_dispatch_events(timeout)

    def murder_pending(self) -> None:
        super().murder_pending()
        if not self.alive and not self._stopping:
            self._stopping = True
            self._hurry()
        for conn in self._deadlines.due(time.monotonic()):
            self._time_out(conn)

    def _hurry(self) -> None:
        """Stopping: a request still arriving gets a little time, an idle connection none."""
        now = time.monotonic()
        for conn in self._deadlines.held():
            if not conn.closing:
                idle = conn.ahead is not None and not conn.ahead.data
                self._deadlines.set(conn, now if idle else min(conn.deadline, now + _STOP_LINGER))

    def _time_out(self, conn: Client) -> None:
        self.poller.unregister(conn.sock)
        if conn.closing:
            self._drop(conn)
            return
        ahead = conn.ahead
        assert ahead is not None
        if ahead.phase is Phase.BODY:  # the app answers 408 with what did arrive
            conn.source.stalled = True
            self._hand_over(conn)
            return
        if self.alive or ahead.data:
            self._refuse_slow_head(conn, len(ahead.data))
        self._close(conn)

    def _refuse_slow_head(self, conn: Client, arrived: int) -> None:
        timeout = self.limits.header_timeout
        self.log.warning(
            "request head from %s not complete after %gs (%d bytes arrived): closed with 408",
            peer(conn.client),
            timeout,
            arrived,
        )
        detail = f"The request line and headers did not arrive within {timeout:g} seconds."
        with contextlib.suppress(OSError):  # small: it fits the socket's buffer, or is lost
            conn.sock.send(error_response(408, "Request Timeout", detail), socket.MSG_DONTWAIT)

    def finish_request(self, conn: Any, fs: Any) -> None:
        if self.cfg.is_ssl:
            super().finish_request(conn, fs)
            return
        try:
            keep = bool(fs.result()) if not fs.cancelled() else False
        except Exception:
            keep = False
        if not keep or conn.source.stalled or conn.sock.fileno() < 0:
            self._close(conn)
            return
        leftover = conn.parser.unreader.take_buffered()
        if leftover:  # pipelined: the next request is (partly) here already
            self._read_head(conn, leftover)
            return
        # Kept alive: the loop reads with MSG_DONTWAIT, so the socket stays blocking for the
        # thread that serves its next request; `ahead` None marks it idle (_on_readable).
        conn.set_timeout()
        if not self.alive:
            conn.timeout = min(conn.timeout, time.monotonic() + _STOP_LINGER)
        self.keepalived_conns.append(conn)
        self.poller.watch_once(conn.sock, conn.on_readable)
