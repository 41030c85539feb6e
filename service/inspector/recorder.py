"""Hands finished exchanges to the history store without ever holding up a request.

The finisher builds the bounded entry and puts it on a bounded queue; one
background thread per worker writes what the queue holds in batches. A full
queue drops the entry and counts it; a failing store loses the batch. Either is
reported by at most one warning line per `_COMPLAINT_SECONDS`, never an error
for the request.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import structlog

from service.exchange.outcome import Outcome
from service.inspector.store import Store, Stored, stored
from service.telemetry.logs import ExchangeLine

_CAPACITY = 1024
_BATCH = 100
_LINGER_SECONDS = 0.02
_COMPLAINT_SECONDS = 30.0
_log = structlog.get_logger("echoscope.history")


class Recorder:
    """A bounded queue in front of `store`, drained by one daemon thread."""

    def __init__(self, store: Store, capacity: int = _CAPACITY) -> None:
        self._store = store
        self._queue: queue.Queue[Stored] = queue.Queue(capacity)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._next_complaint = 0.0
        self.dropped = 0
        self.failed = 0

    def submit(self, exchange: Stored) -> None:
        """Queue one exchange for the store; drop (and count) it when the queue is full."""
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(exchange)
        except queue.Full:
            self.dropped += 1
            self._complain("history queue full: exchanges dropped")

    def flush(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the queue to be written; True when it was."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def _start(self) -> None:
        with self._lock:  # threads are started after fork: each worker has its own writer
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._drain, name="echoscope-history", daemon=True
                )
                self._thread.start()

    def _drain(self) -> None:
        while True:
            batch = [self._queue.get()]
            time.sleep(
                _LINGER_SECONDS
            )  # a busy worker writes one transaction per batch, not per request
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[Stored]) -> None:
        try:
            self._store.add(batch)
        except Exception as error:  # StoreError, or a bug: the writer thread must live on
            self.failed += len(batch)
            self._complain("history store failed: exchanges lost", error=str(error))
        finally:
            for _ in batch:
                self._queue.task_done()

    def _complain(self, message: str, **fields: str) -> None:
        now = time.monotonic()
        if now < self._next_complaint:
            return
        self._next_complaint = now + _COMPLAINT_SECONDS
        _log.warning(message, dropped=self.dropped, failed=self.failed, **fields)


def finisher(
    recorder: Recorder, build: Callable[[Outcome], ExchangeLine], skip: Callable[[Outcome], bool]
) -> Callable[[Outcome], None]:
    """The exchange finisher keeping every exchange that `skip` does not refuse."""

    def record(outcome: Outcome) -> None:
        if not skip(outcome):
            recorder.submit(stored(outcome, build(outcome)))

    return record
