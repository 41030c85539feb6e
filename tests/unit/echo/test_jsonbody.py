"""The JSON body's short way equals what it stands in for, on generated bodies.

`jsonbody.has_long_digits` (a translate and a substring search) against the regex it
replaces.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from service.echo import jsonbody

_LONG_DIGITS = re.compile(rb"\d{19,}")
# Runs of digits around the 19 boundary, among JSON punctuation, signs, other digits
# (Unicode ones, in UTF-8) and arbitrary bytes.
_PIECES = st.sampled_from(
    [b"1" * 18, b"2" * 19, b"3" * 20, b"0", b"9", b"-", b".", b"e", b"[", b"{", b'"', b",",
     b" ", "\u0663".encode(), "\uff11".encode(), b"\x00", b"\xff", b"x"]
)  # fmt: skip
_BODIES = st.lists(_PIECES | st.binary(max_size=24), max_size=30).map(b"".join)


@settings(max_examples=500)
@given(_BODIES)
def test_has_long_digits_is_the_regex(raw: bytes) -> None:
    assert jsonbody.has_long_digits(raw) is (_LONG_DIGITS.search(raw) is not None)


def test_has_long_digits_at_the_boundary() -> None:
    assert jsonbody.has_long_digits(b'{"n": 1234567890123456789}')
    assert not jsonbody.has_long_digits(b'{"n": 123456789012345678}')
    assert not jsonbody.has_long_digits(b"123456789.123456789")
