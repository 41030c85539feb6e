"""What the event loop reads of a request before a thread serves it (no I/O here).

gunicorn's threaded worker hands a connection to a thread as soon as it is
readable, and the thread then blocks until the request head (and later the
body) has arrived: a few clients that stop sending hold every thread. The
worker (service/server/eventloop.py) feeds what it reads without blocking into a
`ReadAhead` instead, and hands the connection over once it is `ready`: the
head is complete, and so is a small body. A body is left to the thread when it
is larger than `max_body`, follows `Expect: 100-continue` (the application
decides whether to ask for it), or is framed in a way gunicorn refuses anyway.
Nothing decided here is final: gunicorn parses the same bytes again.
"""

from __future__ import annotations

import enum

_END_OF_HEAD = b"\r\n\r\n"
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_HEX = frozenset(b"0123456789abcdefABCDEF")
MAX_BODY_AHEAD = 1 << 20  # bytes of body the event loop buffers per connection
_MAX_CHUNK_LINE = 8192  # longer chunk-size lines are gunicorn's to refuse


class Phase(enum.Enum):
    HEAD = "head"
    BODY = "body"
    READY = "ready"


class ReadAhead:
    """The bytes of one request as they arrive, and whether a thread can serve it yet."""

    def __init__(self, max_head: int, max_body: int = MAX_BODY_AHEAD) -> None:
        self.data: bytes | bytearray = b""  # what arrived (bytes while it came in one piece)
        self.phase = Phase.HEAD
        self._max_head = max_head
        self._max_body = max_body
        self._body_start = 0
        self._length: int | None = None  # the Content-Length, when the body is read ahead
        self._chunks: _Chunks | None = None

    @property
    def ready(self) -> bool:
        return self.phase is Phase.READY

    def feed(self, data: bytes) -> bool:
        """Add what arrived; True once the connection can go to a thread."""
        if not self.data:  # most requests arrive in one piece: no copy
            self.data = data
        elif isinstance(self.data, bytearray):
            self.data += data
        else:
            self.data = bytearray(self.data) + data
        if self.phase is Phase.HEAD:
            self._read_head()
        if self.phase is Phase.BODY:
            self._read_body()
        return self.ready

    def _read_head(self) -> None:
        if _H2_PREFACE.startswith(bytes(self.data[: len(_H2_PREFACE)])):
            if len(self.data) >= len(_H2_PREFACE):  # HTTP/2 with prior knowledge: the preface
                self.phase = Phase.READY
            return
        end = self.data.find(_END_OF_HEAD)
        if end < 0:
            if len(self.data) > self._max_head:  # gunicorn refuses it from what is there
                self.phase = Phase.READY
            return
        self._body_start = end + len(_END_OF_HEAD)
        self._frame(bytes(self.data[:end]))  # no copy when `data` is bytes

    def _frame(self, head: bytes) -> None:
        """Decide from the head whether (and how) the body is read ahead."""
        framing = _framing(head)
        if framing is None or framing.expects_continue:
            self.phase = Phase.READY
        elif framing.chunked:
            self._chunks = _Chunks(self._body_start)
            self.phase = Phase.BODY
        elif framing.length and framing.length <= self._max_body:
            self._length = framing.length
            self.phase = Phase.BODY
        else:  # no body, or one too large to hold here
            self.phase = Phase.READY

    def _read_body(self) -> None:
        received = len(self.data) - self._body_start
        if self._length is not None:
            done = received >= self._length
        else:
            assert self._chunks is not None
            done = self._chunks.scan(self.data)
        if done or received > self._max_body:
            self.phase = Phase.READY


class _Framing:
    """How the body of a request is framed, as far as the event loop needs to know."""

    def __init__(self, length: int | None, chunked: bool, expects_continue: bool) -> None:
        self.length = length
        self.chunked = chunked
        self.expects_continue = expects_continue and (length != 0 or chunked)


_NO_BODY = _Framing(None, False, False)


def _framing(head: bytes) -> _Framing | None:
    """The framing of `head`, or None when gunicorn will refuse it (or it is not HTTP/1.1)."""
    request_line, _, fields = head.partition(b"\r\n")
    if not request_line.endswith((b" HTTP/1.1", b" HTTP/1.0")):
        return None
    lowered = fields.lower()
    if b"content-length" not in lowered and b"transfer-encoding" not in lowered:
        return _NO_BODY  # no field frames a body (an `Expect` without one asks for nothing)
    lengths, codings, expect = [], [], False
    for line in fields.split(b"\r\n"):
        name, _, value = line.partition(b":")
        name = name.lower()
        if name == b"content-length":
            lengths.append(value.strip(b" \t"))
        elif name == b"transfer-encoding":
            codings.append(value.strip(b" \t").lower())
        elif name == b"expect":
            expect = value.strip(b" \t").lower() == b"100-continue"
    if len(lengths) > 1 or (lengths and codings) or not all(v.isdigit() for v in lengths):
        return None
    if codings and (codings != [b"chunked"] or request_line.endswith(b"1.0")):
        return None
    length = int(lengths[0]) if lengths else None
    return _Framing(length, bool(codings), expect and request_line.endswith(b"1.1"))


class _Chunks:
    """Finds the end of a chunked body in a growing buffer, resuming where it stopped."""

    def __init__(self, start: int) -> None:
        self._pos = start
        self._data_left = 0  # bytes of the current chunk (and its CRLF) still to come
        self._trailers = False

    def scan(self, data: bytes | bytearray) -> bool:
        """True when the last chunk and the trailer section are in `data`, or when unsure."""
        while True:
            if self._data_left:
                step = min(self._data_left, len(data) - self._pos)
                self._pos += step
                self._data_left -= step
                if self._data_left:
                    return False
            eol = data.find(b"\r\n", self._pos)
            if eol < 0:
                return len(data) - self._pos > _MAX_CHUNK_LINE
            if self._trailers:
                if eol == self._pos:  # the empty line ending the trailer section
                    return True
                self._pos = eol + 2
                continue
            size = bytes(data[self._pos : eol]).split(b";", 1)[0].strip(b" \t")
            if not size or len(size) > 15 or not _HEX.issuperset(size):
                return True  # malformed: gunicorn answers it
            self._pos = eol + 2
            self._data_left = int(size, 16) + 2 if int(size, 16) else 0
            self._trailers = not self._data_left
