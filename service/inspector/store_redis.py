"""The shared history: one Redis stream for every instance (Memorystore on Cloud Run).

Each exchange is one stream entry (its filter fields and its JSON document);
the stream is trimmed to `size` entries on every write and to the last hour on
every batch. Stream ids grow with Redis's own clock, so the cursor orders the
exchanges of every instance. Filters are applied while paging back through the
stream: at most `size` entries are ever read.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.typing import EncodableT, FieldT

from service.inspector.store import MAX_AGE_SECONDS, Filters, Found, Stored, StoreError

KEY = "echoscope:exchanges"
_PAGE = 200
_TIMEOUT_SECONDS = 1.0
_CURSOR = re.compile(r"\d{1,20}-\d{1,20}")


class RedisStore:
    """The history in the Redis stream `echoscope:exchanges` at `url`."""

    def __init__(self, url: str, size: int) -> None:
        self._size = size
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=_TIMEOUT_SECONDS,
            socket_connect_timeout=_TIMEOUT_SECONDS,
            health_check_interval=30,
        )

    def add(self, exchanges: Sequence[Stored]) -> None:
        """Append a batch, trimmed to size and age, in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for exchange in exchanges:
            pipe.xadd(KEY, _fields(exchange), maxlen=self._size, approximate=False)
        pipe.xtrim(KEY, minid=f"{_oldest_ms()}-0", approximate=False)
        _guarded(pipe.execute)

    def find(self, filters: Filters) -> list[Found]:
        """The newest exchanges matching every filter."""
        found: list[Found] = []
        top, oldest = "+", time.time() - MAX_AGE_SECONDS
        while len(found) < filters.limit:
            page = self._page_before(top)
            for cursor, fields in page:
                if float(fields[b"time"]) >= oldest and _matches(fields, filters):
                    found.append(Found(cursor.decode(), fields[b"document"]))
            if len(page) < _PAGE:
                break
            top = "(" + page[-1][0].decode()
        return found[: filters.limit]

    def _page_before(self, top: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
        return list(_guarded(lambda: self._redis.xrevrange(KEY, top, "-", count=_PAGE)))

    def get(self, uuid: str) -> Found | None:
        """The exchange with this uuid, if it is still kept."""
        found = self.find(Filters(uuid=uuid, limit=1))
        return found[0] if found else None

    def after(self, cursor: str, limit: int) -> list[Found]:
        """Exchanges stored after `cursor`, oldest first."""
        page = _guarded(lambda: self._redis.xrange(KEY, f"({cursor}", "+", count=limit))
        oldest = time.time() - MAX_AGE_SECONDS
        return [
            Found(key.decode(), fields[b"document"])
            for key, fields in page
            if float(fields[b"time"]) >= oldest
        ]

    def latest(self) -> str:
        """The cursor of the newest exchange ("0-0" when there is none)."""
        page = _guarded(lambda: self._redis.xrevrange(KEY, "+", "-", count=1))
        return str(page[0][0].decode()) if page else "0-0"

    def valid_cursor(self, cursor: str) -> bool:
        """True for a stream id."""
        return _CURSOR.fullmatch(cursor) is not None

    def clear(self) -> None:
        """Forget every exchange (the stream stays: its ids keep growing)."""
        _guarded(lambda: self._redis.xtrim(KEY, maxlen=0, approximate=False))


def _fields(exchange: Stored) -> dict[FieldT, EncodableT]:
    return {
        "uuid": exchange.uuid,
        "time": repr(exchange.time),
        "method": exchange.method,
        "path": exchange.path,
        "status": exchange.status,
        "trace_id": exchange.trace_id,
        "document": exchange.document,
    }


def _matches(fields: dict[bytes, bytes], filters: Filters) -> bool:
    return (
        (filters.trace_id is None or fields[b"trace_id"].decode() == filters.trace_id)
        and (filters.uuid is None or fields[b"uuid"].decode() == filters.uuid)
        and (filters.status is None or int(fields[b"status"]) == filters.status)
        and (filters.method is None or fields[b"method"].decode() == filters.method)
        and (
            filters.path is None
            or fields[b"path"].decode("utf-8", "replace").startswith(filters.path)
        )
    )


def _guarded(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except redis.RedisError as error:
        raise StoreError(f"redis: {error}") from error


def _oldest_ms() -> int:
    return int((time.time() - MAX_AGE_SECONDS) * 1000)
