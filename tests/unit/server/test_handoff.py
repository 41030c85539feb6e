"""The serving threads' queue: every call handed over runs once, and comes back as gunicorn
reads a future."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from service.server.handoff import Done, Handoff


@pytest.fixture
def handoff() -> Iterator[Handoff]:
    pool = Handoff(3)
    yield pool
    pool.shutdown(wait=True)


def _collect(pool: Handoff, calls: int, work: Callable[[int], object]) -> list[tuple[int, Done]]:
    finished: list[tuple[int, Done]] = []
    all_done = threading.Event()

    def then(n: int, done: Done) -> None:
        finished.append((n, done))
        if len(finished) == calls:
            all_done.set()

    for n in range(calls):
        pool.submit(work, n, then)
    assert all_done.wait(5)
    return finished


def test_each_call_runs_once_and_hands_back_its_result(handoff: Handoff) -> None:
    finished = _collect(handoff, 50, lambda n: n * n)
    assert sorted((n, done.result()) for n, done in finished) == [(n, n * n) for n in range(50)]
    assert not any(done.cancelled() for _, done in finished)


def test_a_call_that_raises_hands_back_its_error_and_the_thread_serves_on(
    handoff: Handoff,
) -> None:
    def work(n: int) -> int:
        if n % 2:
            raise ConnectionResetError(n)
        return n

    finished = dict(_collect(handoff, 10, work))
    for n in range(1, 10, 2):
        with pytest.raises(ConnectionResetError):
            finished[n].result()
    assert [finished[n].result() for n in range(0, 10, 2)] == [0, 2, 4, 6, 8]


def test_calls_run_on_the_pools_threads_at_once() -> None:
    pool = Handoff(3)
    gate = threading.Barrier(4, timeout=5)  # three calls and this test: all at once or none
    names: list[str] = []

    def work(_: int) -> None:
        names.append(threading.current_thread().name)
        gate.wait()

    for n in range(3):
        pool.submit(work, n, lambda n, done: None)
    gate.wait()
    pool.shutdown(wait=True)
    assert sorted(names) == ["serving-0", "serving-1", "serving-2"]


def test_shutdown_serves_what_was_handed_over_before_it() -> None:
    pool = Handoff(1)
    release = threading.Event()
    served: list[int] = []

    def work(n: int) -> None:
        if n == 0:
            release.wait(5)
        served.append(n)

    for n in range(5):
        pool.submit(work, n, lambda n, done: None)
    pool.shutdown(wait=False)  # as gunicorn calls it when its worker stops
    release.set()
    pool.shutdown(wait=True)
    assert served == [0, 1, 2, 3, 4]


def test_a_hand_back_that_fails_is_logged_and_the_thread_serves_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = Handoff(1)
    served = threading.Event()

    def fail(n: int, done: Done) -> None:
        raise OSError("the wake-up pipe is closed")

    pool.submit(lambda n: n, 0, fail)
    pool.submit(lambda n: n, 1, lambda n, done: served.set())
    assert served.wait(5)
    pool.shutdown(wait=True)
    assert "A served connection was not handed back" in caplog.text
