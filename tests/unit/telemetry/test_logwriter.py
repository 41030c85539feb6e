"""The log lines' writer thread (service.telemetry.logwriter): whole lines, in order, nothing lost on close."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from service.telemetry import logwriter

THREADS = 32
LINES_PER_THREAD = 300


def _line(thread: int, number: int) -> bytes:
    # Sizes from a few bytes to past PIPE_BUF, so some lines span several pipe writes.
    padding = "x" * ((thread * 131 + number * 977) % (select.PIPE_BUF + 2000))
    return json.dumps({"thread": thread, "n": number, "pad": padding}).encode() + b"\n"


def _hammer(writer: logwriter.LineWriter) -> None:
    def run(thread: int) -> None:
        for number in range(LINES_PER_THREAD):
            writer.write(_line(thread, number))

    workers = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def _check(raw: bytes) -> None:
    assert raw.endswith(b"\n")
    seen: dict[int, list[int]] = {t: [] for t in range(THREADS)}
    for line in raw.split(b"\n")[:-1]:
        item = json.loads(line)  # a torn or interleaved line would not parse
        seen[item["thread"]].append(item["n"])
    assert all(numbers == list(range(LINES_PER_THREAD)) for numbers in seen.values())


class Pipe:
    """A real pipe, drained by a reader thread, as stdout is on Cloud Run."""

    def __init__(self) -> None:
        self._read_fd, write_fd = os.pipe()
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._drain)
        self._reader.start()
        self.stream = io.FileIO(write_fd, "wb")

    def _drain(self) -> None:
        while chunk := os.read(self._read_fd, 65536):
            self._chunks.append(chunk)

    def received(self) -> bytes:
        """Close the writing end; everything the reader got."""
        if not self.stream.closed:
            self.stream.close()
            self._reader.join()
            os.close(self._read_fd)
        return b"".join(self._chunks)


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    made = Pipe()
    yield made
    made.received()


def test_32_threads_through_a_pipe_give_whole_lines_in_order(pipe: Pipe) -> None:
    writer = logwriter.LineWriter(pipe.stream)
    _hammer(writer)
    writer.close()
    _check(pipe.received())


def test_pipe_writes_never_split_a_line_under_pipe_buf(pipe: Pipe) -> None:
    stream = pipe.stream
    writes: list[int] = []

    class Counting(io.RawIOBase):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            writes.append(len(data))
            return stream.write(data) or 0

        def fileno(self) -> int:
            return stream.fileno()

    writer = logwriter.LineWriter(Counting())  # type: ignore[arg-type]
    for _ in range(200):
        writer.write(b"y" * 1000 + b"\n")
    writer.close()
    assert sum(writes) == 200 * 1001
    assert max(writes) <= select.PIPE_BUF  # each write atomic on a pipe, like one line each


def test_32_threads_to_a_file_give_whole_lines_in_order() -> None:
    stream = io.BytesIO()
    writer = logwriter.LineWriter(stream)
    _hammer(writer)
    writer.close()
    _check(stream.getvalue())


def test_a_line_is_written_without_close() -> None:
    stream = io.BytesIO()
    writer = logwriter.LineWriter(stream)
    writer.write(b"one\n")
    assert _written(stream, b"one\n", 5) == b"one\n"
    writer.close()


def test_a_line_whose_wake_up_was_lost_is_written_without_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two threads queueing the first lines at once can both see two lines queued, and
    # neither wakes the writer thread: a line queued without its wake-up stands for them.
    stream = io.BytesIO()
    writer = logwriter.LineWriter(stream)
    writer.write(b"one\n")
    _written(stream, b"one\n", 5)
    monkeypatch.setattr(writer, "_wake_writer", lambda: None)
    writer.write(b"two\n")
    assert _written(stream, b"one\ntwo\n", 5 * logwriter.WAKE_SECONDS) == b"one\ntwo\n"
    writer.close()


def _written(stream: io.BytesIO, expected: bytes, seconds: float) -> bytes:
    """What the stream holds once it holds `expected`, or after `seconds`."""
    deadline = time.monotonic() + seconds
    while stream.getvalue() != expected and time.monotonic() < deadline:
        time.sleep(0.005)
    return stream.getvalue()


def test_close_writes_what_is_queued_and_later_lines_at_once() -> None:
    stream = io.BytesIO()
    writer = logwriter.LineWriter(stream)
    for number in range(1000):
        writer.write(b"%d\n" % number)
    writer.close()
    assert stream.getvalue() == b"".join(b"%d\n" % n for n in range(1000))
    writer.write(b"late\n")
    assert stream.getvalue().endswith(b"late\n")


def test_a_stuck_stream_makes_the_logging_thread_write(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logwriter, "MAX_QUEUED_LINES", 10)
    stream = io.BytesIO()
    writer = logwriter.LineWriter(stream)
    writer._closed = True  # the writer thread stops: nothing else drains the queue
    writer._wake_writer()
    writer._thread.join()
    for number in range(11):
        writer.write(b"%d\n" % number)
    assert stream.getvalue().count(b"\n") == 11  # bounded queue: written by the caller


def test_a_closed_stream_neither_stops_the_writer_nor_raises() -> None:
    stream = io.BytesIO()
    writer = logwriter.LineWriter(stream)
    stream.close()
    writer.write(b"lost\n")
    writer.close()  # no exception at worker or interpreter exit
    assert not writer._thread.is_alive()


ROOT = Path(__file__).resolve().parents[3]
_WRITER = """
import sys
from service.telemetry.logwriter import LineWriter
writer = LineWriter(sys.stdout.buffer)
for _ in range(12):
    writer.write(sys.argv[1].encode() * 150_000 + b"\\n")
writer.close()
"""


def test_workers_sharing_a_pipe_never_write_inside_each_others_lines() -> None:
    # Lines over a pipe's 64 KiB buffer are written in parts; two workers of one master
    # (here: two children of this process) take turns, so each line arrives whole.
    read_end, write_end = os.pipe()
    children = [
        subprocess.Popen([sys.executable, "-c", _WRITER, tag], stdout=write_end, cwd=ROOT)
        for tag in ("a", "b")
    ]
    os.close(write_end)
    received = b""
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read(4096):
            received += chunk
    assert [child.wait(30) for child in children] == [0, 0]
    lines = received.split(b"\n")[:-1]
    assert len(lines) == 24
    assert all(len(set(line)) == 1 and len(line) == 150_000 for line in lines)


def test_structlog_lines_through_a_line_logger_are_whole_and_in_order() -> None:
    stream = io.BytesIO()
    writer = logwriter.LineWriter(stream)
    logger = structlog.wrap_logger(
        logwriter.LineLogger(writer),
        processors=[
            structlog.processors.JSONRenderer(serializer=lambda e, **_: json.dumps(e).encode())
        ],
        wrapper_class=structlog.make_filtering_bound_logger(0),
    )

    def run(thread: int) -> None:
        for number in range(LINES_PER_THREAD):
            logger.info("line", thread=thread, n=number)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    writer.close()
    _check(stream.getvalue())
