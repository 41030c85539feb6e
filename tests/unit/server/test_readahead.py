"""The event loop's read-ahead: when a request can go to a thread, from the bytes alone."""

from __future__ import annotations

import pytest

from service.server.readahead import Phase, ReadAhead

MAX_HEAD = 10_000


def _fed(*pieces: bytes, max_body: int = 1 << 20) -> ReadAhead:
    ahead = ReadAhead(MAX_HEAD, max_body)
    for piece in pieces:
        ahead.feed(piece)
    return ahead


def test_a_head_is_awaited_until_its_empty_line() -> None:
    ahead = _fed(b"GET / HTTP/1.1\r\n", b"Host: x\r\n")
    assert ahead.phase is Phase.HEAD
    assert ahead.feed(b"\r\n") and ahead.data == b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def test_a_head_split_anywhere_is_found() -> None:
    request = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    for cut in range(1, len(request)):
        assert _fed(request[:cut], request[cut:]).ready


@pytest.mark.parametrize("body", [b"12345", b"123", b""], ids=["whole", "partial", "none-yet"])
def test_a_body_of_known_length_is_read_ahead(body: bytes) -> None:
    ahead = _fed(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n" + body)
    assert ahead.ready is (len(body) == 5)
    assert ahead.phase is (Phase.READY if len(body) == 5 else Phase.BODY)


def test_pipelined_bytes_after_the_body_stay_with_it() -> None:
    data = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET / HTTP/1.1\r\n"
    ahead = _fed(data)
    assert ahead.ready and ahead.data == data


@pytest.mark.parametrize(
    "pieces",
    [
        [b"5\r\nhello\r\n0\r\n\r\n"],
        [b"5\r\nhel", b"lo\r\n", b"0\r\n", b"\r\n"],
        [b"5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"],
        [b"a\r\n0123456789\r\n", b"0\r\n\r\n"],
    ],
)
def test_a_chunked_body_is_read_ahead_to_its_last_chunk(pieces: list[bytes]) -> None:
    ahead = _fed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    for piece in pieces[:-1]:
        assert not ahead.feed(piece)
    assert ahead.feed(pieces[-1])


def test_a_chunked_body_without_its_last_chunk_is_awaited() -> None:
    ahead = _fed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n")
    assert ahead.phase is Phase.BODY


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n",  # the app asks
        b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n",  # too large to hold
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n",  # gunicorn refuses
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -1\r\n",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n",
        b"GET / HTTP/2.0\r\n",
        b"GET /\r\n",
        b"GET / HTTP/1.1\r\n",  # no body
        b"POST / HTTP/1.1\r\nContent-Length: 0\r\n",
    ],
)
def test_the_body_is_left_to_the_thread_or_gunicorn(head: bytes) -> None:
    assert _fed(head + b"\r\n").ready


def test_expect_without_a_body_is_an_ordinary_request() -> None:
    assert _fed(b"POST / HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n").ready


def test_a_chunked_body_past_the_limit_goes_to_the_thread() -> None:
    ahead = _fed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", max_body=100)
    assert not ahead.feed(b"64\r\n" + b"x" * 50)
    assert ahead.feed(b"x" * 60)


@pytest.mark.parametrize("size_line", [b"zz\r\n", b"1234567890123456\r\n", b";x\r\n"])
def test_a_malformed_chunk_is_gunicorns_to_refuse(size_line: bytes) -> None:
    assert _fed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + size_line).ready


def test_a_head_past_gunicorns_limits_goes_to_gunicorn_to_refuse() -> None:
    ahead = _fed(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 2000)
    assert ahead.ready and b"\r\n\r\n" not in ahead.data


def test_the_http2_preface_is_handed_over_whole() -> None:
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    assert not _fed(preface[:18]).ready  # its first empty line is not a head's end
    assert _fed(preface).ready
    assert _fed(b"P", b"OST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx").ready
