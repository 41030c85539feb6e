"""The serving threads' hand-back to the event loop: nothing queued waits unseen."""

from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import Iterator

import pytest

from service.server.wakeups import Wakeups


@pytest.fixture
def wakeups() -> Iterator[Wakeups]:
    queue = Wakeups()
    queue.init()
    yield queue
    queue.close()


def _readable(queue: Wakeups, timeout: float) -> bool:
    return bool(select.select([queue.fileno()], [], [], timeout)[0])


def _pipe_bytes(queue: Wakeups) -> int:
    try:
        return len(os.read(queue.fileno(), 4096))
    except BlockingIOError:
        return 0


def test_the_first_callback_wakes_the_loop_and_the_next_ones_ride_along(wakeups: Wakeups) -> None:
    ran: list[int] = []
    for n in range(5):
        wakeups.defer(ran.append, n)
    assert _readable(wakeups, 0)
    assert _pipe_bytes(wakeups) == 1  # one write for five callbacks
    wakeups.run_callbacks()
    assert ran == [0, 1, 2, 3, 4]


def test_a_callback_queued_after_a_drain_wakes_the_loop_again(wakeups: Wakeups) -> None:
    ran: list[str] = []
    wakeups.defer(ran.append, "a")
    wakeups.run_callbacks()
    assert not _readable(wakeups, 0)
    wakeups.defer(ran.append, "b")
    assert _readable(wakeups, 0)
    wakeups.run_callbacks()
    assert ran == ["a", "b"]


def test_a_callback_queued_by_a_callback_is_not_left_waiting(wakeups: Wakeups) -> None:
    ran: list[str] = []
    wakeups.defer(lambda: wakeups.defer(ran.append, "later"))
    wakeups.run_callbacks()
    assert ran == ["later"] or _readable(wakeups, 0)  # run now, or the loop is woken for it
    if not ran:
        wakeups.run_callbacks()
    assert ran == ["later"]


def test_a_long_queue_is_run_in_batches_and_the_loop_comes_back(wakeups: Wakeups) -> None:
    ran: list[int] = []
    for n in range(200):
        wakeups.defer(ran.append, n)
    passes = 0
    while _readable(wakeups, 0):
        wakeups.run_callbacks()
        passes += 1
    assert ran == list(range(200))
    assert passes > 1


def test_a_wake_up_written_while_the_loop_reads_the_pipe_is_not_lost(
    wakeups: Wakeups, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A thread defers just as the loop reads the pipe (os.read lets the GIL go): its byte
    # may be read in this pass. Later callbacks must still wake the loop, so the mark
    # "a byte is pending" must not outlive the byte.
    ran: list[str] = []
    read = os.read

    def read_as_a_thread_defers(fd: int, size: int) -> bytes:
        wakeups.defer(ran.append, "during")
        return read(fd, size)

    wakeups.defer(ran.append, "first")
    monkeypatch.setattr(os, "read", read_as_a_thread_defers)
    wakeups.run_callbacks()
    monkeypatch.setattr(os, "read", read)
    assert ran == ["first", "during"]
    while _readable(wakeups, 0):  # a spare wake-up finds nothing to do
        wakeups.run_callbacks()
    wakeups.defer(ran.append, "after")
    assert _readable(wakeups, 0), "the next callback did not wake the loop"
    wakeups.run_callbacks()
    assert ran == ["first", "during", "after"]


def test_callbacks_from_many_threads_all_run_while_the_loop_polls(wakeups: Wakeups) -> None:
    # The loop as gunicorn runs it: poll the pipe, run the callbacks; a callback left
    # queued with no byte to wake for makes the poll time out.
    threads, each = 8, 2000
    done = threading.Semaphore(0)
    ran = [0]

    def count() -> None:
        ran[0] += 1

    def serve() -> None:
        for _ in range(each):
            wakeups.defer(count)
        done.release()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        workers = [threading.Thread(target=serve) for _ in range(threads)]
        for worker in workers:
            worker.start()
        while ran[0] < threads * each:
            assert _readable(wakeups, 5.0), f"{threads * each - ran[0]} callbacks never woke it"
            wakeups.run_callbacks()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert ran[0] == threads * each
