"""The history store (SQLite), its filters and the recorder's bounded queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import structlog

from service.inspector.recorder import Recorder
from service.inspector.store import MAX_AGE_SECONDS, Filters, Stored, StoreError, parse_filters
from service.inspector.store_sqlite import SqliteStore


def stored(n: int, when: float | None = None, trace_id: str = "") -> Stored:
    return Stored(
        uuid=f"{n:032x}",
        time=time.time() if when is None else when,
        method="GET",
        path=f"/p/{n}",
        status=200,
        trace_id=trace_id,
        document=b'{"n":%d}' % n,
    )


def test_the_store_keeps_at_most_size_newest_first(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "h.sqlite3"), size=5)
    store.add([stored(n) for n in range(8)])
    store.add([stored(8)])
    found = store.find(Filters(limit=100))
    assert [item.document for item in found] == [b'{"n":%d}' % n for n in (8, 7, 6, 5, 4)]


def test_nothing_older_than_an_hour_is_kept_or_shown(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "h.sqlite3"), size=50)
    store.add([stored(1, when=time.time() - MAX_AGE_SECONDS - 5), stored(2)])
    assert [item.document for item in store.find(Filters())] == [b'{"n":2}']
    assert store.get(f"{1:032x}") is None
    assert store.after("0", 10)[0].document == b'{"n":2}'


def test_cursors_grow_and_after_returns_oldest_first(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "h.sqlite3"), size=50)
    assert store.latest() == "0"
    store.add([stored(1), stored(2), stored(3)])
    first, *rest = store.after("0", 10)
    assert [item.document for item in rest] == [b'{"n":2}', b'{"n":3}']
    assert [item.document for item in store.after(first.cursor, 1)] == [b'{"n":2}']
    assert store.latest() == rest[-1].cursor


def test_two_connections_share_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "h.sqlite3")
    writer, reader = SqliteStore(path, 50), SqliteStore(path, 50)
    thread = threading.Thread(target=writer.add, args=([stored(1, trace_id="ab" * 16)],))
    thread.start()
    thread.join()
    assert reader.find(Filters(trace_id="ab" * 16))[0].document == b'{"n":1}'


def test_a_broken_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        SqliteStore(str(path), 5).add([stored(1)])


def test_filters_are_parsed_and_checked() -> None:
    filters = parse_filters(
        {"trace_id": "AB" * 16, "status": "404", "method": "post", "path": "/x", "limit": "7"}
    )
    assert filters == Filters("ab" * 16, None, 404, "POST", "/x", 7)
    assert parse_filters({}) == Filters()
    with pytest.raises(ValueError, match="limit"):
        parse_filters({"limit": "100000"})


class _SlowStore:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.added: list[Stored] = []

    def add(self, exchanges: Sequence[Stored]) -> None:
        self.release.wait(5)
        self.added.extend(exchanges)


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    store = _SlowStore()
    recorder = Recorder(store, capacity=2)  # type: ignore[arg-type]
    with structlog.testing.capture_logs() as logs:
        submitting = threading.Thread(
            target=lambda: [recorder.submit(stored(n)) for n in range(10)]
        )
        submitting.start()
        submitting.join(30)  # a blocking submit would wait for the held store forever
        assert not submitting.is_alive()
    assert recorder.dropped >= 7  # one in the writer's hands, two queued
    assert [line["event"] for line in logs] == ["history queue full: exchanges dropped"]
    store.release.set()
    assert recorder.flush(5)
    assert len(store.added) == 10 - recorder.dropped


class _DownStore:
    def add(self, exchanges: Sequence[Stored]) -> None:
        raise StoreError("redis: connection refused")


def test_a_store_that_is_down_is_one_warning_per_interval() -> None:
    recorder = Recorder(_DownStore())  # type: ignore[arg-type]
    with structlog.testing.capture_logs() as logs:
        for n in range(5):
            recorder.submit(stored(n))
            recorder.flush(5)
    assert recorder.failed == 5
    assert [(line["event"], line["log_level"]) for line in logs] == [
        ("history store failed: exchanges lost", "warning")
    ]
    assert logs[0]["error"] == "redis: connection refused"
