"""The log lines' writer: request threads queue whole lines, one thread writes them to stdout.

A write syscall on a request thread gives the GIL away and waits to get it back
behind the other busy threads; here a request only appends its line to a queue.
The writer thread wakes at the first line, writes everything queued in one go,
then lets lines gather for FLUSH_SECONDS. So a line reaches the stream at most
FLUSH_SECONDS (plus the write itself) after it was logged: a SIGKILL loses at
most the lines of the last 50 ms. (Two threads queueing the first lines at once can
both miss being first: the writer thread also looks every WAKE_SECONDS, so such lines
wait at most that long.) `close()` (worker exit, interpreter exit)
writes every queued line. Lines keep their order; each line is written whole.
On a pipe that several workers share, a write longer than PIPE_BUF is not atomic:
each chunk is written under a lock shared by the workers of one gunicorn master
(a POSIX lock on a file named after it), so no worker's line lands inside another's.
"""

from __future__ import annotations

import atexit
import collections
import fcntl
import os
import select
import stat
import tempfile
import threading
import time
from typing import IO

FLUSH_SECONDS = 0.05
WAKE_SECONDS = 1.0  # the writer thread looks at the queue this often without a wake-up
MAX_QUEUED_LINES = 10_000  # past this the logging thread writes itself (the stream is stuck)
_FILE_CHUNK_BYTES = 1 << 20


class LineWriter:
    """A binary stream for whole lines (one `write` per line, as structlog's BytesLogger does)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        pipe = _is_pipe(stream)
        self._chunk_bytes = select.PIPE_BUF if pipe else _FILE_CHUNK_BYTES
        self._shared_lock = _open_shared_lock() if pipe else None
        self._queue: collections.deque[bytes] = collections.deque()
        self._writing = threading.Lock()  # one writer at a time keeps the lines in order
        # Released when the queue gets its first line: the writer thread's wake-up call. A
        # bare lock, not an Event (whose set() runs a Condition in Python on every wake-up).
        self._wake = threading.Lock()
        self._wake.acquire()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="echoscope-log-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def write(self, line: bytes) -> int:
        """Queue one line for the writer thread (written at once after `close`)."""
        queue = self._queue
        queue.append(line)
        # The first line since the writer thread emptied the queue wakes it. Counted after
        # appending: a line the thread's last drain missed always finds itself alone.
        if len(queue) == 1:
            self._wake_writer()
        if self._closed or len(queue) > MAX_QUEUED_LINES:
            self._drain()
        return len(line)

    def flush(self) -> None:
        """Nothing to do on the logging thread: the writer thread flushes what it writes."""

    def close(self) -> None:
        """Write every queued line and stop the writer thread; later lines are written at once."""
        if self._closed:
            return
        self._closed = True
        self._wake_writer()
        self._thread.join(timeout=5)
        self._drain()
        atexit.unregister(self.close)

    def _wake_writer(self) -> None:
        try:  # noqa: SIM105 (on the request path: no context manager made per wake-up)
            self._wake.release()
        except RuntimeError:  # released already: the thread has not woken up yet
            pass

    def _run(self) -> None:
        while not self._closed:
            if not self._queue:  # until a line comes (or close), looking now and then
                self._wake.acquire(timeout=WAKE_SECONDS)
            self._drain()
            time.sleep(FLUSH_SECONDS)  # let the lines of the next 50 ms gather into one write

    def _drain(self) -> None:
        with self._writing:
            lines = []
            popleft = self._queue.popleft
            try:
                while True:
                    lines.append(popleft())
            except IndexError:
                pass
            # A closed stdout (a broken pipe) leaves nowhere to write them: dropped, never raised.
            # (try/except, not contextlib.suppress: this runs on every drain, often per line.)
            try:
                if lines:
                    self._write(lines)
            except (OSError, ValueError):
                pass

    def _write(self, lines: list[bytes]) -> None:
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            if chunk and size + len(line) > self._chunk_bytes:
                self._write_chunk(b"".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        self._write_chunk(b"".join(chunk))

    def _write_chunk(self, data: bytes) -> None:
        shared = self._shared_lock  # held across processes while the chunk is written
        if shared is not None:
            fcntl.lockf(shared, fcntl.LOCK_EX)
        try:
            view = memoryview(data)
            while view:  # a raw stream (stdout under PYTHONUNBUFFERED) may take part of it
                view = view[self._stream.write(view) :]
            self._stream.flush()  # a buffered stream must not merge two chunks into one write
        finally:
            if shared is not None:
                fcntl.lockf(shared, fcntl.LOCK_UN)


def _open_shared_lock() -> int | None:
    """The lock the workers of this gunicorn master (this process's parent) share."""
    path = os.path.join(tempfile.gettempdir(), f"echoscope-stdout-{os.getppid()}.lock")
    try:
        return os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:
        return None  # no lock to share: lines over PIPE_BUF may interleave, as before


def _is_pipe(stream: IO[bytes]) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):  # io.BytesIO and the like have no descriptor
        return False


class LineLogger:
    """structlog's `BytesLogger` for a LineWriter: each rendered line queued whole.

    BytesLogger takes a lock around each write and flushes after it; a LineWriter
    queues lines safely from any thread and flushes on its own thread, so neither is needed.
    """

    def __init__(self, writer: LineWriter) -> None:
        self._write = writer.write

    def msg(self, message: bytes) -> None:
        """Queue one rendered line."""
        self._write(message + b"\n")

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class TextStream:
    """A text view of a byte stream, for the console renderer."""

    def __init__(self, stream: IO[bytes] | LineWriter) -> None:
        self._stream = stream

    def write(self, text: str) -> None:
        self._stream.write(text.encode("utf-8", "replace"))

    def flush(self) -> None:
        self._stream.flush()
