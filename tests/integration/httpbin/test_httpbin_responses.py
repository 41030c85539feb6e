"""httpbin's response formats, encodings, images, caching, caller-written responses and /status.

Adapted from psf/httpbin's test_httpbin.py and go-httpbin's handler tests; the
deliberate differences (safe content types, quoted ETags, JSON errors) are
asserted as echoscope's.
"""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support.server import Server


def _get(server: Server, path: str, **kwargs: object) -> requests.Response:
    return requests.get(server.url + path, timeout=5, allow_redirects=False, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- compressed bodies


@pytest.mark.parametrize(
    ("path", "coding", "flag", "decode"),
    [
        ("/gzip", "gzip", "gzipped", gzip.decompress),
        ("/deflate", "deflate", "deflated", zlib.decompress),
        ("/brotli", "br", "brotli", brotli.decompress),
    ],
)
def test_compressed_responses(httpbin: Server, path: str, coding: str, flag: str, decode) -> None:  # type: ignore[no-untyped-def]
    response = _get(httpbin, path, stream=True, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == coding
    raw = response.raw.read()
    assert int(response.headers["Content-Length"]) == len(raw)
    import json

    body = json.loads(decode(raw))
    assert body[flag] is True and body["method"] == "GET" and body["origin"] == "127.0.0.1"
    assert "Host" in body["headers"]


def test_requests_decodes_gzip_and_brotli_itself(httpbin: Server) -> None:
    assert _get(httpbin, "/gzip").json()["gzipped"] is True
    assert _get(httpbin, "/brotli").json()["brotli"] is True


# ---------------------------------------------------------------- fixed documents


@pytest.mark.parametrize(
    ("path", "content_type", "contains"),
    [
        ("/html", "text/html; charset=utf-8", b"<h1>Herman Melville - Moby-Dick</h1>"),
        ("/xml", "application/xml", b'<slideshow title="Sample Slide Show"'),
        ("/robots.txt", "text/plain; charset=utf-8", b"Disallow: /deny"),
        ("/deny", "text/plain; charset=utf-8", b"YOU SHOULDN'T BE HERE"),
        ("/encoding/utf8", "text/html; charset=utf-8", "Здравствуй, мир!".encode()),
        ("/forms/post", "text/html; charset=utf-8", b'action="/post"'),
    ],
)
def test_fixed_documents(httpbin: Server, path: str, content_type: str, contains: bytes) -> None:
    response = _get(httpbin, path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert contains in response.content


def test_json_is_the_slideshow(httpbin: Server) -> None:
    slideshow = _get(httpbin, "/json").json()["slideshow"]
    assert slideshow["title"] == "Sample Slide Show" and len(slideshow["slides"]) == 2


def test_links(httpbin: Server) -> None:
    first = _get(httpbin, "/links/10")
    assert (first.status_code, first.headers["Location"]) == (302, "/links/10/0")
    page = _get(httpbin, "/links/10/3")
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.text.count("<a href=") == 9 and " 3 " in page.text
    assert "<a href='/links/10/4'>4</a>" in page.text
    for bad in ("/links/257", "/links/-1", "/links/5/x", "/links/x/1"):
        assert _get(httpbin, bad).status_code == 400, bad


# ---------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("kind", "content_type", "magic"),
    [
        ("png", "image/png", b"\x89PNG\r\n\x1a\n"),
        ("jpeg", "image/jpeg", b"\xff\xd8\xff"),
        ("webp", "image/webp", b"RIFF"),
        ("svg", "image/svg+xml", b"<svg"),
    ],
)
def test_images(httpbin: Server, kind: str, content_type: str, magic: bytes) -> None:
    response = _get(httpbin, f"/image/{kind}")
    assert response.headers["Content-Type"] == content_type
    assert response.content.startswith(magic)
    assert _get(httpbin, "/image", headers={"Accept": content_type}).content == response.content


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [(None, "image/png"), ("image/*", "image/png"), ("*/*", "image/png"),
     ("image/avif,image/webp,*/*", "image/webp")],
)  # fmt: skip
def test_image_negotiation(httpbin: Server, accept: str | None, content_type: str) -> None:
    headers = {} if accept is None else {"Accept": accept}
    if accept is None:
        response = requests.get(f"{httpbin.url}/image", headers={"Accept": None}, timeout=5)  # type: ignore[dict-item]
    else:
        response = _get(httpbin, "/image", headers=headers)
    assert response.headers["Content-Type"] == content_type


def test_image_nobody_can_accept_is_406(httpbin: Server) -> None:
    response = _get(httpbin, "/image", headers={"Accept": "text/plain"})
    assert response.status_code == 406 and response.json()["status"] == 406
    assert "image/png" in response.json()["detail"]


def test_an_unknown_image_kind_still_echoes(httpbin: Server) -> None:
    response = _get(httpbin, "/image/gif")
    assert response.status_code == 200 and response.json()["path"] == "/image/gif"


# ---------------------------------------------------------------- caching


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 200),
        ({"If-None-Match": "abc"}, 304),
        ({"If-None-Match": '"123", "abc"'}, 304),
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": "123"}, 200),
        ({"If-Match": "abc"}, 200),
        ({"If-Match": '"123", "abc"'}, 200),
        ({"If-Match": "*"}, 200),
    ],
)
def test_etag(httpbin: Server, headers: dict[str, str], status: int) -> None:
    response = _get(httpbin, "/etag/abc", headers=headers)
    assert response.status_code == status
    assert response.headers["ETag"] == '"abc"'  # quoted, as RFC 9110 and go-httpbin


def test_etag_weak_list_and_failed_precondition(httpbin: Server) -> None:
    weak = _get(httpbin, "/etag/c3piozzzz", headers={"If-None-Match": 'W/"xyzzy", W/"c3piozzzz"'})
    assert weak.status_code == 304
    failed = _get(httpbin, "/etag/abc", headers={"If-Match": "123"})
    assert failed.status_code == 412 and "ETag" not in failed.headers
    assert failed.json()["status"] == 412


def test_cache(httpbin: Server) -> None:
    fresh = _get(httpbin, "/cache")
    assert fresh.status_code == 200 and "Last-Modified" in fresh.headers and "ETag" in fresh.headers
    assert set(fresh.json()) == {"args", "headers", "origin", "url"}
    for header in (
        {"If-Modified-Since": fresh.headers["Last-Modified"]},
        {"If-None-Match": fresh.headers["ETag"]},
    ):
        cached = _get(httpbin, "/cache", headers=header)
        assert cached.status_code == 304 and cached.content == b""
    assert _get(httpbin, "/cache/60").headers["Cache-Control"] == "public, max-age=60"
    assert _get(httpbin, "/cache/-1").status_code == 400


# ---------------------------------------------------------------- responses the caller writes


def test_base64(httpbin: Server) -> None:
    greeting = "Здравствуй, мир!"
    import base64

    encoded = base64.urlsafe_b64encode(greeting.encode()).decode()
    response = _get(httpbin, f"/base64/{encoded}")
    assert response.content.decode() == greeting
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert _get(httpbin, "/base64/encode/hello").text == "aGVsbG8="
    assert _get(httpbin, "/base64/decode/aGVsbG8").text == "hello"
    typed = _get(httpbin, "/base64/eyJhIjoxfQ?content-type=application/json")
    assert typed.headers["Content-Type"] == "application/json" and typed.json() == {"a": 1}


@pytest.mark.parametrize("path", ["/base64/a", "/base64/not$base64", "/base64/rot13/aGk"])
def test_bad_base64_is_400(httpbin: Server, path: str) -> None:
    response = _get(httpbin, path)
    assert response.status_code == 400 and response.json()["status"] == 400


@pytest.mark.parametrize("verb", ["GET", "POST"])
def test_response_headers(httpbin: Server, verb: str) -> None:
    response = requests.request(
        verb, f"{httpbin.url}/response-headers?animal=dog&animal=cat&X-One=1", timeout=5
    )
    assert response.status_code == 200
    assert response.raw.headers.getlist("animal") == ["dog", "cat"]
    assert response.json() == {
        "Content-Type": "application/json",
        "animal": ["dog", "cat"],
        "X-One": "1",
    }


def test_response_headers_sets_a_safe_content_type(httpbin: Server) -> None:
    response = _get(httpbin, "/response-headers?Content-Type=text/plain")
    assert response.headers["Content-Type"] == "text/plain"
    assert response.json()["Content-Type"] == "text/plain"


@pytest.mark.parametrize(
    "query",
    ["Content-Type=text/html", "Content-Type=image/svg%2Bxml", "Content-Type=application/xml",
     "Content-Type=text/html;charset=utf-8"],
)  # fmt: skip
def test_active_content_types_are_refused(httpbin: Server, query: str) -> None:
    """No reflected XSS: a caller cannot make echoscope's origin serve its HTML."""
    for path in (f"/response-headers?{query}&x=<script>alert(1)</script>",
                 f"/base64/PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg?{query.replace('Content-Type', 'content-type')}"):  # fmt: skip
        response = _get(httpbin, path)
        assert response.status_code == 400, path
        assert response.headers["Content-Type"] == "application/json"
        assert b"<script>" not in response.content


@pytest.mark.parametrize(
    "query",
    [
        "Content-Length=1",
        "Transfer-Encoding=chunked",
        "Connection=close",
        "bad%20name=x",
        "X-A=a%0Db",
    ],
)
def test_response_headers_keeps_the_framing_and_refuses_bad_fields(
    httpbin: Server, query: str
) -> None:
    response = _get(httpbin, f"/response-headers?{query}")
    assert response.status_code == 400 and response.json()["status"] == 400


@pytest.fixture(scope="module")
def unsafe(make_module_server: MakeServer) -> Server:
    """A server whose operator allowed active content types."""
    return make_module_server({"ECHO_UNSAFE_CONTENT_TYPES": "true"})


def test_unsafe_content_types_when_the_operator_allows_them(unsafe: Server) -> None:
    assert (
        _get(unsafe, "/response-headers?Content-Type=text/html").headers["Content-Type"]
        == "text/html"
    )
    html = _get(unsafe, "/base64/PGI-aGk8L2I-?content-type=text/html")
    assert (html.headers["Content-Type"], html.content) == ("text/html", b"<b>hi</b>")


# ---------------------------------------------------------------- /status


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "TRACE"])
def test_status_for_every_method(httpbin: Server, method: str) -> None:
    assert requests.request(method, f"{httpbin.url}/status/418", timeout=5).status_code == 418


@pytest.mark.parametrize(
    ("code", "header", "value"),
    [(301, "Location", "/redirect/1"), (302, "Location", "/redirect/1"), (303, "Location", "/redirect/1"),
     (307, "Location", "/redirect/1"), (401, "WWW-Authenticate", 'Basic realm="Fake Realm"')],
)  # fmt: skip
def test_status_adds_httpbins_headers_and_keeps_the_record(
    httpbin: Server, code: int, header: str, value: str
) -> None:
    response = _get(httpbin, f"/status/{code}")
    assert response.status_code == code and response.headers[header] == value
    assert response.json()["endpoint"] == "status"


def test_status_weighted_choices(httpbin: Server) -> None:
    seen = {_get(httpbin, "/status/200:0.5,500:0.5").status_code for _ in range(60)}
    assert seen == {200, 500}
    assert {_get(httpbin, "/status/201,202").status_code for _ in range(60)} == {201, 202}
    assert {_get(httpbin, "/status/200:0,418:1").status_code for _ in range(10)} == {418}


@pytest.mark.parametrize("code", ["4!9", "200,402,foo", "200:x", "200:-1", "200:0", "600,200"])
def test_status_bad_codes_are_400(httpbin: Server, code: str) -> None:
    response = _get(httpbin, f"/status/{code}")
    assert response.status_code == 400 and response.json()["status"] == 400


def test_delay_takes_go_durations(httpbin: Server) -> None:
    assert _get(httpbin, "/delay/100ms").json()["endpoint"] == "delay"
    assert _get(httpbin, "/delay/0.1").status_code == 200
    assert _get(httpbin, "/delay/3s").status_code == 400  # past ECHO_MAX_DELAY_SECONDS=2


def test_unstable(httpbin: Server) -> None:
    assert _get(httpbin, "/unstable?failure_rate=0").status_code == 200
    failed = _get(httpbin, "/unstable?failure_rate=1")
    assert failed.status_code == 500 and failed.json()["status"] == 500
    seen = {_get(httpbin, "/unstable").status_code for _ in range(60)}
    assert seen == {200, 500}
    assert (
        _get(httpbin, "/unstable?seed=3").status_code
        == _get(httpbin, "/unstable?seed=3").status_code
    )
    for bad in ("failure_rate=2", "failure_rate=x", "seed=x"):
        assert _get(httpbin, f"/unstable?{bad}").status_code == 400
