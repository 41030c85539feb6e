"""A streamed response body that counts what it yields, for the exchange's Outcome."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

_BODY_HEAD_BYTES = 65536  # what a streamed response keeps of its body for the log line


class CountingStream:
    """A streamed body that counts what it yields and keeps its first bytes for the log."""

    def __init__(self, chunks: Iterable[bytes | str]) -> None:
        self._chunks = chunks
        self.size = 0
        self.head = b""
        self._on_close: list[Callable[[], None]] = []

    def __iter__(self) -> Iterator[bytes]:
        for item in self._chunks:
            chunk = item.encode() if isinstance(item, str) else item
            self.size += len(chunk)
            if len(self.head) < _BODY_HEAD_BYTES:
                self.head += chunk[: _BODY_HEAD_BYTES - len(self.head)]
            yield chunk

    def when_closed(self, callback: Callable[[], None]) -> None:
        """Run `callback` once, when the server closes the body (WSGI's `close`)."""
        self._on_close.append(callback)

    def close(self) -> None:
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()
        finally:
            callbacks, self._on_close = self._on_close, []
            for callback in callbacks:
                callback()
