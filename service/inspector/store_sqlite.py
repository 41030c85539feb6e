"""The embedded history: one SQLite file shared by the gunicorn workers of an instance.

WAL lets one worker write while the others read; every thread keeps its own
connection (sqlite3 connections are not shared between threads). The cursor is
the AUTOINCREMENT id, which only grows, whichever worker wrote the row. What a
committed transaction wrote survives the worker that wrote it being killed.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence

from service.inspector.store import MAX_AGE_SECONDS, Filters, Found, Stored, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL,
    time REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    trace_id TEXT NOT NULL,
    document BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS exchanges_uuid ON exchanges (uuid);
CREATE INDEX IF NOT EXISTS exchanges_trace_id ON exchanges (trace_id);
CREATE INDEX IF NOT EXISTS exchanges_time ON exchanges (time);
"""
_INSERT = (
    "INSERT INTO exchanges (uuid, time, method, path, status, trace_id, document)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# AUTOINCREMENT ids are consecutive (a rolled-back insert can only leave fewer rows kept).
_TRIM_SIZE = "DELETE FROM exchanges WHERE id <= (SELECT max(id) FROM exchanges) - ?"
_BUSY_MILLISECONDS = 2000


class SqliteStore:
    """The history in the SQLite file at `path`, at most `size` exchanges."""

    def __init__(self, path: str, size: int) -> None:
        self._path = path
        self._size = size
        self._local = threading.local()

    def add(self, exchanges: Sequence[Stored]) -> None:
        """Insert a batch and trim to size and age, in one transaction."""
        rows = [
            (e.uuid, e.time, e.method, e.path, e.status, e.trace_id, e.document) for e in exchanges
        ]
        with self._guard() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(_INSERT, rows)
                db.execute(_TRIM_SIZE, (self._size,))
                db.execute("DELETE FROM exchanges WHERE time < ?", (_oldest(),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def find(self, filters: Filters) -> list[Found]:
        """The newest exchanges matching every filter."""
        where: list[str] = ["time >= ?"]
        values: list[object] = [_oldest()]
        for column, value in (
            ("trace_id", filters.trace_id),
            ("uuid", filters.uuid),
            ("status", filters.status),
            ("method", filters.method),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                values.append(value)
        if filters.path is not None:
            where.append("substr(path, 1, ?) = ?")
            values += [len(filters.path), filters.path]
        sql = f"SELECT id, document FROM exchanges WHERE {' AND '.join(where)}"
        return self._select(f"{sql} ORDER BY id DESC LIMIT ?", (*values, filters.limit))

    def get(self, uuid: str) -> Found | None:
        """The exchange with this uuid, if it is still kept."""
        found = self._select(
            "SELECT id, document FROM exchanges WHERE uuid = ? AND time >= ? LIMIT 1",
            (uuid, _oldest()),
        )
        return found[0] if found else None

    def after(self, cursor: str, limit: int) -> list[Found]:
        """Exchanges stored after `cursor`, oldest first."""
        return self._select(
            "SELECT id, document FROM exchanges WHERE id > ? AND time >= ? ORDER BY id LIMIT ?",
            (int(cursor), _oldest(), limit),
        )

    def latest(self) -> str:
        """The cursor of the newest exchange ("0" when there is none)."""
        with self._guard() as db:
            row = db.execute("SELECT coalesce(max(id), 0) FROM exchanges").fetchone()
        return str(row[0])

    def valid_cursor(self, cursor: str) -> bool:
        """True for a cursor this store hands out."""
        return cursor.isascii() and cursor.isdigit() and len(cursor) <= 18

    def clear(self) -> None:
        """Forget every exchange (ids keep growing: a cursor never points back)."""
        with self._guard() as db:
            db.execute("DELETE FROM exchanges")

    def _select(self, sql: str, values: Sequence[object]) -> list[Found]:
        with self._guard() as db:
            rows = db.execute(sql, tuple(values)).fetchall()
        return [Found(str(row[0]), bytes(row[1])) for row in rows]

    def _guard(self) -> _Guard:
        return _Guard(self)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened (and the schema made) on first use."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self._path, timeout=_BUSY_MILLISECONDS / 1000, isolation_level=None
            )
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # durable past a process crash
                db.executescript(_SCHEMA)
            except sqlite3.Error:
                db.close()
                raise
            self._local.db = db
        return db


class _Guard:
    """This thread's connection, with sqlite3's errors turned into StoreError."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __enter__(self) -> sqlite3.Connection:
        try:
            return self._store.connection()
        except sqlite3.Error as error:
            raise StoreError(f"sqlite: {error}") from error

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        if isinstance(error, sqlite3.Error):
            raise StoreError(f"sqlite: {error}") from error


def _oldest() -> float:
    return time.time() - MAX_AGE_SECONDS
