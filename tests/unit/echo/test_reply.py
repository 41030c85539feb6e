"""The caller-written reply's parsing: headers split where a new `Name:` starts, checks named."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import BadRequest

from service.echo import reply
from tests.unit.conftest import Echo


@pytest.mark.parametrize(
    ("values", "pairs"),
    [
        (["X-A: 1"], (("X-A", "1"),)),
        (["X-A: 1,X-B: 2"], (("X-A", "1"), ("X-B", "2"))),  # a repeated header, joined
        (["X-A:1", "X-B :  2 "], (("X-A", "1"), ("X-B", "2"))),
        (["Cache-Control: no-cache, no-store"], (("Cache-Control", "no-cache, no-store"),)),
        (["Link: <a>; rel=x, <b>; rel=y"], (("Link", "<a>; rel=x, <b>; rel=y"),)),
        (["X-Empty:"], (("X-Empty", ""),)),
        (["X-T: a:b, c"], (("X-T", "a:b, c"),)),
    ],
)
def test_headers(values: list[str], pairs: tuple[tuple[str, str], ...]) -> None:
    assert reply.parse_headers(values) == pairs


@pytest.mark.parametrize(
    "value",
    ["Content-Length: 1", "content-length: 1", "TRANSFER-ENCODING: x", "Connection: x",
     "Access-Control-Allow-Credentials: true", "Refresh: 1", "X A: 1", ": 1", "X-A",
     "X-A: \x01", "X-A: é"],
)  # fmt: skip
def test_refused(value: str) -> None:
    with pytest.raises(BadRequest) as raised:
        reply.parse_headers([value])
    assert reply.HEADER in str(raised.value.description)


def test_at_most_32_headers() -> None:
    assert len(reply.parse_headers([", ".join(f"X-{i}: v" for i in range(32))])) == 32
    with pytest.raises(BadRequest):
        reply.parse_headers([", ".join(f"X-{i}: v" for i in range(33))])


@pytest.mark.parametrize(
    ("raw", "from_query", "body", "is_text"),
    [
        ("hi", True, b"hi", True),
        ("gr\u00fc\u00dfe", True, "grüße".encode(), True),
        ("gr\u00c3\u00bc\u00c3\u009fe", False, "grüße".encode(), True),  # Latin-1 of UTF-8 bytes
        ("base64:AAH/", True, b"\x00\x01\xff", False),
        ("base64:AAH_", True, b"\x00\x01\xff", False),  # URL-safe alphabet
        ("base64:AAE", True, b"\x00\x01", False),  # padding optional
        ("base64:", True, b"", False),
        ("", True, b"", True),
    ],
)
def test_bodies(raw: str, from_query: bool, body: bytes, is_text: bool) -> None:
    assert reply.decode_body(raw, from_query) == (body, is_text)


@pytest.mark.parametrize("raw", ["base64:***", "base64:A", "a" * 4097, "base64:" + "A" * 5464])
def test_bad_or_large_bodies(raw: str) -> None:
    with pytest.raises(BadRequest):
        reply.decode_body(raw, True)


def test_a_percent_encoded_control_name_still_counts(echo: Echo) -> None:
    response = echo.client.get("/anything?x%2Dset-response-body=hi")
    assert response.data == b"hi"
    assert echo.client.get("/anything?x=%41").json["args"] == {"x": "A"}
