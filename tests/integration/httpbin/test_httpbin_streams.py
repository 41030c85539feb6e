"""httpbin's generated and streamed data through gunicorn: bytes, streams, drip, SSE, ranges, trailers.

Streamed responses are measured to their last byte and logged once, when done.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.support import raw
from tests.support.server import Server


def _get(server: Server, path: str, **kwargs: object) -> requests.Response:
    return requests.get(server.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- bytes


@pytest.mark.parametrize("path", ["/bytes/10?seed=0", "/stream-bytes/10?seed=0"])
def test_seeded_bytes_are_psf_httpbins(httpbin: Server, path: str) -> None:
    response = _get(httpbin, path)
    assert response.content == b"\xc5\xd7\x14\x84\xf8\xcf\x9b\xf4\xb7o"
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_bytes_and_stream_bytes(httpbin: Server) -> None:
    assert len(_get(httpbin, "/bytes/1024").content) == 1024
    assert _get(httpbin, "/bytes/1024").content != _get(httpbin, "/bytes/1024").content
    streamed = _get(httpbin, "/stream-bytes/1024?chunk_size=100")
    assert len(streamed.content) == 1024 and "Content-Length" not in streamed.headers
    assert _get(httpbin, "/bytes/0").content == b""


@pytest.mark.parametrize(
    "path",
    ["/bytes/102401", "/bytes/-1", "/bytes/x", "/stream-bytes/102401", "/stream-bytes/10?chunk_size=0",
     "/stream-bytes/102400?chunk_size=1", "/bytes/10?seed=x"],
)  # fmt: skip
def test_byte_bounds_are_400(httpbin: Server, path: str) -> None:
    response = _get(httpbin, path)
    assert response.status_code == 400 and response.json()["status"] == 400


# ---------------------------------------------------------------- /stream


def test_stream_lines(httpbin: Server) -> None:
    response = _get(httpbin, "/stream/5?x=1")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["id"] for line in lines] == [0, 1, 2, 3, 4]
    assert lines[0]["args"] == {"x": "1"} and lines[0]["origin"] == "127.0.0.1"
    assert "Content-Length" not in response.headers  # chunked, line by line
    assert _get(httpbin, "/stream/101").status_code == 400


# ---------------------------------------------------------------- /drip


def test_drip(httpbin: Server) -> None:
    started = time.monotonic()
    response = _get(httpbin, "/drip?numbytes=40&duration=0.4&delay=0.1")
    assert time.monotonic() - started >= 0.5
    assert response.status_code == 200 and response.content == b"*" * 40
    assert response.headers["Content-Length"] == "40"
    custom = _get(httpbin, "/drip?numbytes=4&duration=0&code=500")
    assert (custom.status_code, custom.content) == (500, b"****")


@pytest.mark.parametrize(
    "query",
    ["numbytes=0", "numbytes=-1", "numbytes=102401", "duration=3", "delay=1.5s&duration=1s",
     "duration=x", "code=99", "code=600"],
)  # fmt: skip
def test_drip_bounds_are_400_before_any_wait(httpbin: Server, query: str) -> None:
    started = time.monotonic()
    response = _get(httpbin, f"/drip?{query}")
    assert response.status_code == 400 and response.json()["status"] == 400
    assert time.monotonic() - started < 1


# ---------------------------------------------------------------- /sse


def test_sse_events(httpbin: Server) -> None:
    started = time.monotonic()
    response = _get(httpbin, "/sse?count=3&duration=200ms", stream=True)
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    events = response.text.split("\n\n")[:-1]
    assert time.monotonic() - started >= 0.2
    assert len(events) == 3
    for i, event in enumerate(events):
        kind, data = event.split("\n")
        assert kind == "event: ping"
        assert json.loads(data.removeprefix("data: "))["id"] == i


@pytest.mark.parametrize("query", ["count=0", "count=10001", "duration=5s", "jitter=2", "delay=x"])
def test_sse_bounds_are_400(httpbin: Server, query: str) -> None:
    assert _get(httpbin, f"/sse?{query}").status_code == 400


# ---------------------------------------------------------------- /range


def test_range_whole_and_repeatable(httpbin: Server) -> None:
    first, second = _get(httpbin, "/range/1234"), _get(httpbin, "/range/1234")
    assert first.status_code == 200
    assert first.headers["ETag"] == "range1234" and first.headers["Accept-Ranges"] == "bytes"
    assert first.headers["Content-Range"] == "bytes 0-1233/1234"
    assert len(first.content) == 1234 and first.content == second.content


@pytest.mark.parametrize(
    ("numbytes", "header", "content", "content_range"),
    [
        (100, "bytes=10-24", b"klmnopqrstuvwxy", "bytes 10-24/100"),
        (1000, "bytes=0-15", b"abcdefghijklmnop", "bytes 0-15/1000"),
        (26, "bytes=20-", b"uvwxyz", "bytes 20-25/26"),
        (26, "bytes=-5", b"vwxyz", "bytes 21-25/26"),
    ],
)
def test_range_partial(
    httpbin: Server, numbytes: int, header: str, content: bytes, content_range: str
) -> None:
    response = _get(
        httpbin, f"/range/{numbytes}?duration=0.1&chunk_size=5", headers={"Range": header}
    )
    assert response.status_code == 206
    assert response.content == content
    assert response.headers["Content-Range"] == content_range
    assert response.headers["Content-Length"] == str(len(content))


@pytest.mark.parametrize("header", ["bytes=10-5", "bytes=32-40"])
def test_range_unsatisfiable(httpbin: Server, header: str) -> None:
    response = _get(httpbin, "/range/26", headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */26"
    assert response.json()["status"] == 416


@pytest.mark.parametrize("path", ["/range/0", "/range/102401", "/range/10?duration=3"])
def test_range_bounds_are_400(httpbin: Server, path: str) -> None:
    assert _get(httpbin, path).status_code == 400


# ---------------------------------------------------------------- /trailers


def test_trailers_over_http_1_1(httpbin: Server) -> None:
    response = raw.send(
        httpbin.port,
        b"GET /trailers?X-Checksum=abc&Server-Timing=total HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert response is not None and response.status == 200
    assert response.headers["trailer"] == "X-Checksum, Server-Timing"
    assert response.raw.endswith(b"0\r\nX-Checksum: abc\r\nServer-Timing: total\r\n\r\n")
    assert b'"X-Checksum": "abc"' in response.raw  # the body is the request, as go-httpbin's


@pytest.mark.parametrize(
    "name", ["Content-Length", "Transfer-Encoding", "Authorization", "Set-Cookie", "bad name"]
)
def test_forbidden_trailers_are_400(httpbin: Server, name: str) -> None:
    assert _get(httpbin, "/trailers", params={name: "1"}).status_code == 400


# ---------------------------------------------------------------- measured to the last byte, logged once


@pytest.mark.parametrize(
    ("path", "headers", "size", "slowest"),
    [
        ("/drip?numbytes=30&duration=0.6", {}, 30, 0.6),
        ("/sse?count=4&duration=0.45", {}, None, 0.45),
        ("/range/2000?duration=0.5&chunk_size=200", {}, 2000, 0.5),
        ("/range/2000?duration=0.5&chunk_size=100", {"Range": "bytes=0-999"}, 1000, 0.25),
        ("/stream/20", {}, None, 0.0),
        ("/stream-bytes/30000?chunk_size=1000", {}, 30000, 0.0),
    ],
)
def test_streams_are_measured_to_the_last_byte_and_logged_once(
    httpbin: Server, path: str, headers: dict[str, str], size: int | None, slowest: float
) -> None:
    response = _get(httpbin, path, headers=headers)
    sent = len(response.content)
    assert size is None or sent == size
    line = httpbin.line_for(response.headers["X-Request-Id"])
    http = line["httpRequest"]
    assert int(http["responseSize"]) == sent
    assert float(http["latency"].removesuffix("s")) >= slowest
    time.sleep(0.2)
    lines = [
        entry
        for entry in httpbin.exchange_lines()
        if entry.get("uuid") == response.headers["X-Request-Id"]
    ]
    assert len(lines) == 1
