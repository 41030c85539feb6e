"""Parsing and bounds of the httpbin endpoints: durations, integers, ranges, statuses, redirects."""

from __future__ import annotations

import dataclasses
import random
import string
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st
from werkzeug.exceptions import BadRequest, RequestedRangeNotSatisfiable

from service.echo import control, durations
from service.httpbin import params, ranges, redirects
from service.httpbin.caching import listed_tags
from service.httpbin.digest import expected_response
from service.httpbin.reflect import decode
from service.settings import Settings
from service.telemetry import logparts, redact
from tests.unit.conftest import Echo, MakeEcho

# ---------------------------------------------------------------- Go durations


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("0", 0.0),
        ("1.5", 1.5),
        ("2", 2.0),
        (".5", 0.5),
        ("100ms", 0.1),
        ("1.5s", 1.5),
        ("1m30s", 90.0),
        ("250us", 0.00025),
        ("250µs", 0.00025),
        ("1h", 3600.0),
        ("10ns", 1e-8),
    ],
)
def test_go_durations_and_plain_seconds(raw: str, seconds: float) -> None:
    assert durations.seconds(raw) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "raw", ["", "-1", "-1s", "1x", "ms", "1e3", "nan", "inf", "1 s", "s1", "1.2.3s"]
)
def test_not_a_duration(raw: str) -> None:
    assert durations.seconds(raw) is None
    with pytest.raises(BadRequest):
        durations.bounded(raw, "delay", 10)


def test_a_duration_past_its_cap_is_refused_not_shortened() -> None:
    assert durations.bounded("10s", "delay", 10) == 10
    with pytest.raises(BadRequest, match="maximum"):
        durations.bounded("10001ms", "delay", 10)


# ---------------------------------------------------------------- integers and chunk sizes


@pytest.mark.parametrize("raw", ["", "a", "1.5", "+1", " 1", "1 ", "\uff11", "9" * 30, "-"])
def test_integer_refuses_what_is_not_a_decimal_integer(raw: str) -> None:
    with pytest.raises(BadRequest):
        params.integer(raw, "n", 0, 10**30)


def test_integer_bounds_are_inclusive() -> None:
    assert params.integer("0", "n", 0, 5) == 0 and params.integer("5", "n", 0, 5) == 5
    for raw in ("-1", "6"):
        with pytest.raises(BadRequest, match="from 0 to 5"):
            params.integer(raw, "n", 0, 5)


@pytest.mark.parametrize("raw", ["0", "0.5", "1", "1.0"])
def test_fraction_accepts_0_to_1(raw: str) -> None:
    assert params.fraction(raw, "f") == float(raw)


@pytest.mark.parametrize("raw", ["-0.1", "1.1", "nan", "inf", "x", ""])
def test_fraction_refuses_the_rest(raw: str) -> None:
    with pytest.raises(BadRequest):
        params.fraction(raw, "f")


# ---------------------------------------------------------------- byte ranges (RFC 9110 §14)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, (0, 25)),
        ("bytes=0-15", (0, 15)),
        ("bytes=20-", (20, 25)),
        ("bytes=-5", (21, 25)),
        ("bytes=-100", (0, 25)),
        ("bytes=10-24", (10, 24)),
        ("bytes=0-40", (0, 25)),  # a last position past the end is clipped (go-httpbin, RFC)
        ("bytes=0-1,2-3", (0, 25)),  # several ranges: the whole body (a server may ignore them)
        ("items=0-1", (0, 25)),
        ("bytes=x-y", (0, 25)),
    ],
)
def test_requested_ranges(header: str | None, expected: tuple[int, int]) -> None:
    assert ranges.requested(header, 26) == expected


@pytest.mark.parametrize("header", ["bytes=10-5", "bytes=26-", "bytes=32-40", "bytes=-0"])
def test_unsatisfiable_ranges_are_416(header: str) -> None:
    with pytest.raises(RequestedRangeNotSatisfiable):
        ranges.requested(header, 26)


def test_range_bytes_are_the_alphabet_at_their_offsets() -> None:
    assert b"".join(ranges.alphabet(10, 24, 5, 0)) == b"klmnopqrstuvwxy"
    assert b"".join(ranges.alphabet(0, 27, 100, 0)) == string.ascii_lowercase.encode() + b"ab"


# ---------------------------------------------------------------- /status choices


def test_weighted_status_choices_follow_their_weights() -> None:
    rng = random.Random(7)
    drawn = [control.choose_status("200:0.9,500:0.1", rng) for _ in range(2000)]
    assert 0.85 < drawn.count(200) / len(drawn) < 0.95
    assert set(drawn) == {200, 500}
    assert {control.choose_status("201,202", rng) for _ in range(200)} == {201, 202}
    assert {control.choose_status("200:0,503:1", rng) for _ in range(50)} == {503}


@pytest.mark.parametrize(
    "raw", ["200:x", "200:-1", "200:0", "abc,200", ",", "200:inf", "200,", "99,200"]
)
def test_bad_status_choices_are_400(raw: str) -> None:
    with pytest.raises(BadRequest):
        control.parse_statuses(raw)


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (301, {"Location": "/redirect/1"}),
        (302, {"Location": "/redirect/1"}),
        (307, {"Location": "/redirect/1"}),
        (304, {}),
        (401, {"WWW-Authenticate": 'Basic realm="Fake Realm"'}),
        (407, {}),  # Proxy-Authenticate is hop-by-hop: gunicorn would drop it
        (200, {}),
        (500, {}),
    ],
)
def test_status_headers_are_httpbins(status: int, headers: dict[str, str]) -> None:
    assert control.status_headers(status) == headers


# ---------------------------------------------------------------- /redirect-to: no open redirect

ALLOWED = frozenset({"allowed.example"})
SAFE = [
    "/get",
    "/anything/a?b=c",
    "/",
    "http://allowed.example/x",
    "https://ALLOWED.example:8443/y",
]
UNSAFE = [
    "//evil.example",
    "/\\evil.example",
    "/\t/evil.example",
    "\\\\evil.example",
    "http://evil.example",
    "https://evil.example/",
    "http://allowed.example@evil.example/",
    "http://evil.example\\@allowed.example",
    "http://allowed.example.evil.example/",
    "javascript:alert(1)",
    "data:text/html,<script>",
    "ftp://allowed.example/",
    "get",
    " /get",
    "/get\r\nSet-Cookie: a=b",
    "http://allowed.example:99999/",
    "http://[::1/",
    "https:evil.example",
    "/é",
]


@pytest.mark.parametrize("url", SAFE)
def test_safe_targets_are_allowed(url: str) -> None:
    assert redirects.is_allowed(url, ALLOWED)


@pytest.mark.parametrize("url", UNSAFE)
def test_unsafe_targets_are_refused(url: str) -> None:
    assert not redirects.is_allowed(url, ALLOWED)


@pytest.fixture
def listened(make_echo: MakeEcho) -> tuple[Echo, list[str]]:
    """An app with one allowed host and a listener that sees every Location it sends."""
    echo = make_echo({"ECHO_REDIRECT_HOSTS": "allowed.example"})
    sent: list[str] = []

    @echo.app.after_request
    def listen(response):  # type: ignore[no-untyped-def]
        sent.extend(response.headers.getlist("Location"))
        return response

    return echo, sent


def _points_here_or_allowed(location: str) -> bool:
    return (location.startswith("/") and not location.startswith("//")) or location.startswith(
        ("http://allowed.example", "https://allowed.example", "https://ALLOWED.example")
    )


def test_no_forbidden_location_is_ever_sent(listened: tuple[Echo, list[str]]) -> None:
    echo, sent = listened
    for url in UNSAFE:
        response = echo.client.get("/redirect-to", query_string={"url": url})
        assert response.status_code == 400, url
        assert response.json["status"] == 400
    for url in SAFE:
        assert echo.client.get("/redirect-to", query_string={"url": url}).status_code == 302
    assert sent == SAFE  # exactly the safe ones, in order


@hypothesis.given(
    url=st.text(max_size=40) | st.from_regex(r"\A[a-z]{0,5}:?[/\\\t ]{0,3}[a-z.@]{0,20}\Z")
)
@hypothesis.settings(
    max_examples=300, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)
def test_no_generated_url_escapes_the_allow_list(
    listened: tuple[Echo, list[str]], url: str
) -> None:
    echo, sent = listened
    sent.clear()
    response = echo.client.get("/redirect-to", query_string={"url": url})
    assert response.status_code in (302, 400)
    assert all(_points_here_or_allowed(location) for location in sent), sent


# ---------------------------------------------------------------- base64, etags, digest, redaction


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [("SGVsbG8=", b"Hello"), ("SGVsbG8", b"Hello"), ("-_8", b"\xfb\xff"), ("+/8=", b"\xfb\xff")],
)
def test_base64_in_either_alphabet_padding_optional(raw: str, decoded: bytes) -> None:
    assert decode(raw) == decoded


@pytest.mark.parametrize("raw", ["a", "SGVsbG8===", "SGV$bG8=", "=abc"])
def test_bad_base64_is_400(raw: str) -> None:
    with pytest.raises(BadRequest):
        decode(raw)


def test_listed_etags_like_psf_httpbins() -> None:
    assert listed_tags("xyzzy") == ["xyzzy"]
    assert listed_tags('"xyzzy"') == ["xyzzy"]
    assert listed_tags('W/"xyzzy"') == ["xyzzy"]
    assert listed_tags('W/"xyzzy", W/"r2d2xxxx", "c3piozzzz"') == ["xyzzy", "r2d2xxxx", "c3piozzzz"]
    assert listed_tags("*") == ["*"]
    assert listed_tags(None) == []


def test_digest_response_of_rfc_7616s_example() -> None:
    # RFC 7616 §3.9.1 (MD5, qop=auth): Mufasa / Circle of Life.
    given = {
        "username": "Mufasa",
        "realm": "http-auth@example.org",
        "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        "nc": "00000001",
        "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        "qop": "auth",
        "algorithm": "MD5",
    }
    expected = "8ca523f5e9506fed4657c9700eebdbec"
    assert expected_response(given, "Circle of Life", "GET", "/dir/index.html", b"") == expected
    assert expected_response({**given, "qop": "bogus"}, "x", "GET", "/", b"") is None
    without_nc = {key: value for key, value in given.items() if key != "nc"}
    assert expected_response(without_nc, "Circle of Life", "GET", "/dir/index.html", b"") is None


def test_secrets_a_body_repeats_are_redacted_where_they_stand_alone() -> None:
    record: Any = {
        "headers": {"Authorization": "Bearer s3cr3t-token", "Accept": "*/*"},
        "cookies": {"session": "c00kie"},
        "args": {"token": "q-secret", "x": "1"},
        "query_string": "token=q-secret&x=1",
        "url": "http://localhost/anything?token=q-secret&x=1",
        "method": "GET",
        "body_size": 0,
        "data": "",
    }
    settings = dataclasses.replace(
        Settings.from_env({}),
        redact_headers=frozenset({"authorization"}),
        redact_query=frozenset({"token"}),
    )
    _, _, found = logparts.describer(settings, logparts.HeaderRules(settings))(record)
    secrets = redact.kept_secrets(found)
    assert set(secrets) == {"Bearer s3cr3t-token", "s3cr3t-token", "c00kie", "q-secret"}
    body = b'{"token": "s3cr3t-token", "c": "c00kie", "t": "q-secret", "s3cr3t-tokens": 1}'
    redacted = redact.in_body(body, secrets)
    for secret in (b'"s3cr3t-token"', b"c00kie", b"q-secret"):
        assert secret not in redacted
    assert b"s3cr3t-tokens" in redacted  # a longer word is another word
    assert redact.in_body(b'{"a": "x\\"y"}', ['x"y']) == b'{"a": "[REDACTED]"}'
