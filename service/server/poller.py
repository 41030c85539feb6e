"""The worker's epoll selector, where a connection's next read is watched for one event.

gunicorn's threaded worker polls a `selectors.DefaultSelector` and takes each
readable connection out of it (one epoll_ctl) before a thread serves it, then
puts it back (another) when the answer is sent. Each call lets the GIL go to
another thread. A connection watched with `watch_once` is registered with
EPOLLONESHOT instead: the kernel disarms it when it fires, `unregister` then
costs nothing (the kernel keeps it, disarmed), and watching it again re-arms it
with one call. Everything else (listeners, the wake-up pipe, gunicorn's own TLS
connections, a closing connection) is level-triggered, as in `selectors`.
No Flask here.
"""

from __future__ import annotations

import contextlib
import math
import select
from collections.abc import Mapping
from selectors import EVENT_READ, EVENT_WRITE, BaseSelector, SelectorKey
from typing import Any


class Poller(BaseSelector):
    """`selectors.EpollSelector`'s behaviour, plus `watch_once`."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._keys: dict[int, SelectorKey] = {}
        self._once: set[int] = set()  # registered with EPOLLONESHOT, armed
        self._fired: set[int] = set()  # registered with EPOLLONESHOT, disarmed by an event
        self._parked: set[int] = set()  # unregistered while disarmed: the kernel still holds them

    def register(self, fileobj: Any, events: int, data: Any = None) -> SelectorKey:
        return self._add(fileobj, events, data, 0)

    def watch_once(self, fileobj: Any, data: Any) -> SelectorKey:
        """Register `fileobj` for its next read event only (then unregister it, or it is
        armed again at the next `select`)."""
        key = self._add(fileobj, EVENT_READ, data, select.EPOLLONESHOT)
        self._once.add(key.fd)
        return key

    def unregister(self, fileobj: Any) -> SelectorKey:
        fd = self._fd(fileobj)
        try:
            key = self._keys.pop(fd)
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None
        self._once.discard(fd)
        if fd in self._fired:
            self._fired.discard(fd)
            self._parked.add(fd)
            return key
        with contextlib.suppress(OSError):  # closed since it was registered
            self._epoll.unregister(fd)
        return key

    def select(self, timeout: float | None = None) -> list[tuple[SelectorKey, int]]:
        self._rearm()
        wait = -1.0 if timeout is None else max(0.0, math.ceil(timeout * 1e3) / 1e3)
        try:
            ready = self._epoll.poll(wait, max(len(self._keys), 1))
        except InterruptedError:
            return []
        found = []
        for fd, mask in ready:
            key = self._keys.get(fd)
            if key is None:
                continue
            if fd in self._once:
                self._once.discard(fd)
                self._fired.add(fd)
            events = (EVENT_WRITE if mask & ~select.EPOLLIN else 0) | (
                EVENT_READ if mask & ~select.EPOLLOUT else 0
            )
            found.append((key, events & key.events))
        return found

    def get_map(self) -> Mapping[Any, SelectorKey]:
        return _Map(self)

    def close(self) -> None:
        self._epoll.close()
        self._keys.clear()

    def _add(self, fileobj: Any, events: int, data: Any, flags: int) -> SelectorKey:
        if not events or events & ~(EVENT_READ | EVENT_WRITE):
            raise ValueError(f"Invalid events: {events!r}")
        fd = self._fd(fileobj)
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        mask = flags | (select.EPOLLIN if events & EVENT_READ else 0)
        mask |= select.EPOLLOUT if events & EVENT_WRITE else 0
        self._arm(fd, mask)
        key = SelectorKey(fileobj, fd, events, data)
        self._keys[fd] = key
        return key

    def _arm(self, fd: int, mask: int) -> None:
        if fd in self._parked:
            self._parked.discard(fd)
            try:
                self._epoll.modify(fd, mask)
                return
            except FileNotFoundError:  # closed while parked; this is a new file
                pass
        self._epoll.register(fd, mask)

    def _rearm(self) -> None:
        """Connections that fired and are still registered are watched again."""
        for fd in self._fired:
            with contextlib.suppress(OSError):  # closed while registered: the kernel dropped it
                self._epoll.modify(fd, select.EPOLLIN | select.EPOLLONESHOT)
                self._once.add(fd)
        self._fired.clear()

    def _fd(self, fileobj: Any) -> int:
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        if fd >= 0:
            return int(fd)
        for key in self._keys.values():  # a closed socket: found by identity, as selectors does
            if key.fileobj is fileobj:
                return key.fd
        raise ValueError(f"Invalid file descriptor: {fd}")


class _Map(Mapping[Any, SelectorKey]):
    """The registrations by file object, found as `unregister` finds them."""

    def __init__(self, poller: Poller) -> None:
        self._poller = poller

    def __len__(self) -> int:
        return len(self._poller._keys)

    def __getitem__(self, fileobj: Any) -> SelectorKey:
        return self._poller._keys[self._poller._fd(fileobj)]

    def __iter__(self) -> Any:
        return iter(self._poller._keys)
