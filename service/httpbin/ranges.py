"""Byte ranges for /range/<n>: one `Range: bytes=…` (RFC 9110 §14), over a..z repeated."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from werkzeug.exceptions import RequestedRangeNotSatisfiable

_SINGLE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")
_ALPHABET = bytes(range(ord("a"), ord("z") + 1))


def requested(header: str | None, size: int) -> tuple[int, int]:
    """(first, last) byte positions asked for, the whole body when the header is absent,
    malformed or lists several ranges (a server may ignore those); 416 when unsatisfiable."""
    found = _SINGLE.fullmatch((header or "").replace(" ", ""))
    if found is None or found.group(1) == found.group(2) == "":
        return 0, size - 1
    start, end = found.group(1), found.group(2)
    if not start:  # the last `end` bytes
        if int(end) == 0:
            raise _unsatisfiable(size)
        return max(0, size - int(end)), size - 1
    first = int(start)
    last = size - 1 if not end else min(int(end), size - 1)  # a last past the end is clipped
    if first >= size or (end and int(end) < first):
        raise _unsatisfiable(size)
    return first, last


def headers(first: int, last: int, size: int) -> dict[str, str]:
    """The headers of the (partial) body: psf/httpbin's ETag, Accept-Ranges, Content-Range."""
    return {
        "Content-Type": "application/octet-stream",
        "Content-Length": str(last + 1 - first),
        "Content-Range": f"bytes {first}-{last}/{size}",
        "Accept-Ranges": "bytes",
        "ETag": f"range{size}",
    }


def alphabet(first: int, last: int, chunk: int, pause_per_byte: float) -> Iterator[bytes]:
    """Bytes `first` to `last` of a..z repeated, `chunk` at a time, each after its share of time."""
    for start in range(first, last + 1, chunk):
        stop = min(start + chunk, last + 1)
        if pause_per_byte:
            time.sleep(pause_per_byte * (stop - start))
        yield bytes(_ALPHABET[i % 26] for i in range(start, stop))


def _unsatisfiable(size: int) -> RequestedRangeNotSatisfiable:
    return RequestedRangeNotSatisfiable(
        length=size, description=f"the range asked for is not within the {size} bytes"
    )
