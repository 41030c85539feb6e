"""Request bodies with Content-Encoding, broken multipart, and X-Cloud-Trace-Context forms."""

from __future__ import annotations

import gzip
import zlib

import pytest

from tests.unit.conftest import Echo, MakeEcho

CLOUD_TRACE = "105445aa7843bc8bf206b12000100000"


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),  # raw deflate
    ],
)
def test_compressed_json_body_is_decoded(echo: Echo, coding: str, compress: object) -> None:
    plain = b'{"a": [1, 2, 3], "b": "text"}'
    wire = compress(plain)  # type: ignore[operator]
    record = echo.client.post(
        "/anything",
        data=wire,
        headers={"Content-Encoding": coding, "Content-Type": "application/json"},
    ).json
    assert record["json"] == {"a": [1, 2, 3], "b": "text"}
    assert record["data"] == plain.decode()
    assert (record["content_encoding"], record["body_size"]) == (coding, len(wire))
    assert record["decoded_size"] == len(plain)
    assert "json_error" not in record and "encoding_error" not in record


def test_compressed_form_is_decoded(echo: Echo) -> None:
    record = echo.client.post(
        "/anything",
        data=gzip.compress(b"a=1&a=2&b=x"),
        headers={"Content-Encoding": "gzip"},
        content_type="application/x-www-form-urlencoded",
    ).json
    assert record["form"] == {"a": ["1", "2"], "b": "x"}


def test_undecodable_body_is_echoed_as_received(echo: Echo) -> None:
    wire = b"\x1f\x8b not really gzip \xff"
    record = echo.client.post(
        "/anything", data=wire, headers={"Content-Encoding": "gzip"}, content_type="text/plain"
    ).json
    assert record["encoding_error"].startswith("the body is not valid gzip")
    assert record["data_encoding"] == "base64"
    assert "decoded_size" not in record


def test_truncated_gzip_is_an_encoding_error(echo: Echo) -> None:
    wire = gzip.compress(b"x" * 10_000)[:-12]
    record = echo.client.post("/anything", data=wire, headers={"Content-Encoding": "gzip"}).json
    assert "encoding_error" in record


def test_a_gzip_bomb_is_a_413(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_MAX_BODY_BYTES": "1048576"})
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    assert len(bomb) < 1048576
    response = echo.client.post("/anything", data=bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert response.json["status"] == 413
    assert echo.exchange_line()["httpRequest"]["status"] == 413


def test_unknown_content_encoding_is_left_alone(echo: Echo) -> None:
    record = echo.client.post(
        "/anything", data=b"hello", headers={"Content-Encoding": "br"}, content_type="text/plain"
    ).json
    assert record["data"] == "hello" and "content_encoding" not in record


def test_an_unparseable_multipart_body_is_kept_with_a_form_error(echo: Echo) -> None:
    body = b"--xyz\r\nContent-Disposition: form-data; name=a\r\n\r\nvalue-without-end"
    record = echo.client.post(
        "/anything", data=body, content_type="multipart/form-data; boundary=xyz"
    ).json
    assert record["form_error"].startswith("the multipart body could not be parsed")
    assert "value-without-end" in record["data"]
    assert record["body_size"] == len(body)


def test_a_good_multipart_body_has_no_data_and_no_form_error(echo: Echo) -> None:
    body = b"--xyz\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--xyz--\r\n"
    record = echo.client.post(
        "/anything", data=body, content_type="multipart/form-data; boundary=xyz"
    ).json
    assert (record["form"], record["data"]) == ({"a": "1"}, "")
    assert "form_error" not in record


@pytest.mark.parametrize(
    ("header", "sampled"),
    [
        (f"{CLOUD_TRACE};o=1", True),
        (f"{CLOUD_TRACE}/0;o=1", True),
        (f"{CLOUD_TRACE}", False),
        (f"{CLOUD_TRACE}/;o=0", False),
        (f"{CLOUD_TRACE}/123;o=1", True),
    ],
)
def test_cloud_trace_forms_continue_the_trace(echo: Echo, header: str, sampled: bool) -> None:
    record = echo.client.get("/anything", headers={"X-Cloud-Trace-Context": header}).json
    assert record["trace"]["trace_id"] == CLOUD_TRACE
    assert record["trace"]["sampled"] is sampled


@pytest.mark.parametrize(
    "header", ["0" * 32 + ";o=1", "xyz", f"{CLOUD_TRACE[:-1]};o=1", f"{CLOUD_TRACE}/abc;o=1"]
)
def test_malformed_cloud_trace_starts_a_new_trace(echo: Echo, header: str) -> None:
    record = echo.client.get("/anything", headers={"X-Cloud-Trace-Context": header}).json
    assert record["trace"]["trace_id"] != CLOUD_TRACE


def test_server_address_and_port_are_split(echo: Echo) -> None:
    echo.client.get("/anything", headers={"Host": "api.example:8443"})
    attributes = echo.span().attributes or {}
    assert attributes["server.address"] == "api.example"
    assert attributes["server.port"] == 8443
