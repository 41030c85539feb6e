"""The worker's serving threads, handed connections without futures.

gunicorn's gthread worker gives each connection to a `concurrent.futures`
ThreadPoolExecutor and takes it back through the future's done-callback: per
request a Future (a Condition, so a lock and its waiters), a work item, the
executor's idle semaphore released by the thread and tried by the next submit,
and the callback's registration under the future's lock. Here a connection goes
to the threads on one `queue.SimpleQueue` (a lock in C), and a thread hands the
connection back to the callback it was given, with what it returned or raised in a
`Done` that answers what gunicorn asks of a future (`result()`, `cancelled()`).

As with the executor, a shutdown lets every connection already handed over be
served (the threads stop at the end of the queue). The threads are daemons:
gunicorn shuts the pool down when its worker stops, after waiting for the
requests in flight up to its graceful timeout.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

Job = tuple[Callable[[Any], Any], Any, Callable[[Any, "Done"], None]]


class Done:
    """A finished call, read as gunicorn reads a finished future."""

    __slots__ = ("_error", "_value")

    def __init__(self, value: Any, error: BaseException | None) -> None:
        self._value = value
        self._error = error

    def cancelled(self) -> bool:
        return False  # nothing handed over is ever taken back

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value


class Handoff:
    """`threads` threads serving the calls handed to them, in order."""

    def __init__(self, threads: int) -> None:
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"serving-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(
        self, call: Callable[[Any], Any], arg: Any, then: Callable[[Any, Done], None]
    ) -> None:
        """Run `call(arg)` on a thread, then `then(arg, Done)` on that thread."""
        self._jobs.put((call, arg, then))

    def shutdown(self, wait: bool = True) -> None:
        """Stop each thread once what was handed over before is served."""
        for _ in self._threads:
            self._jobs.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            call, arg, then = job
            try:
                done = Done(call(arg), None)
            except BaseException as error:  # as an executor keeps it: finish_request reads it
                done = Done(None, error)
            try:
                then(arg, done)
            except Exception:  # the thread serves on, as an executor's does past a callback
                logging.getLogger(__name__).exception("A served connection was not handed back")


class HandingOver:
    """Worker mixin (before gunicorn's ThreadWorker): connections go to a Handoff's threads,
    and come back to the event loop's `finish_request` with a Done."""

    cfg: Any
    tpool: Any
    method_queue: Any
    handle: Callable[[Any], Any]  # gunicorn's: serves one connection's request
    finish_request: Callable[[Any, Done], None]

    def get_thread_pool(self) -> Handoff:
        return Handoff(self.cfg.threads)

    def enqueue_req(self, conn: Any) -> None:
        self.tpool.submit(self.handle, conn, self._handled)

    def _handled(self, conn: Any, done: Done) -> None:
        self.method_queue.defer(self.finish_request, conn, done)
