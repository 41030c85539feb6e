"""The serving threads' hand-back to the event loop: one pipe write per wake-up, not per request.

gunicorn's threaded worker runs each finished request's follow-up
(`finish_request`) on the event loop: the thread queues it and writes a byte to
a pipe the loop polls. gunicorn writes one byte per request; under load the loop
wakes once for many of them, and each write is a syscall that lets the GIL go to
another thread. Here a thread writes only when no wake-up is pending. The loop
reads the pipe, then clears the mark, then drains the queue: a callback queued
after the read either finds the mark clear and writes, or is drained.
No Flask here.
"""

from __future__ import annotations

import contextlib
import os
import queue
from collections.abc import Callable
from functools import partial
from typing import Any

_READ = 4096
_BATCH = 64  # callbacks run per wake-up, so that sockets and timers are not starved


class Wakeups:
    """What gunicorn's ThreadWorker uses as its `method_queue` (the same five methods)."""

    def __init__(self) -> None:
        self._read_fd = -1
        self._write_fd = -1
        self._queue: queue.SimpleQueue[Callable[[], Any]] = queue.SimpleQueue()
        self._pending = False  # a byte is in the pipe, or the loop has yet to drain

    def init(self) -> None:
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)

    def fileno(self) -> int:
        return self._read_fd

    def defer(self, callback: Callable[..., Any], *args: Any) -> None:
        """Have the loop call `callback(*args)` (from any thread)."""
        self._queue.put(partial(callback, *args))
        self._wake()

    def run_callbacks(self, _fileobj: Any = None) -> None:
        """The loop's side, when the pipe is readable: what is queued runs."""
        with contextlib.suppress(OSError):
            os.read(self._read_fd, _READ)
        self._pending = False  # after the read: a byte written from now on stays for the next
        for _ in range(_BATCH):
            try:
                callback = self._queue.get_nowait()
            except queue.Empty:
                return
            callback()
        self._wake()  # more are queued: the loop comes back after its other events

    def _wake(self) -> None:
        if not self._pending:
            self._pending = True
            with contextlib.suppress(OSError):  # full: the loop has bytes to wake for
                os.write(self._write_fd, b"\x00")

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._read_fd = self._write_fd = -1
