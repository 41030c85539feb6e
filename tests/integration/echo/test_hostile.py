"""Hostile input: a 4xx with a JSON body or a correct echo, never a 5xx, and the logs stay true.

Every test sends its requests through a `Probe`, which judges each answer and,
at the end, checks the server is still sound: /health answers 200, every line
of its output is one JSON object, no line is a forged entry, and the exchange
lines are exactly the requests that reached the app (one per X-Request-Id).

Requests gunicorn itself refuses, before Flask sees them, get gunicorn's own
decision written as echoscope's JSON error (service/server/worker.py) and no X-Request-Id;
that is acceptable only for these cases
(gunicorn 27's parser, asserted below as `GUNICORN` expectations):
  - CR, LF, NUL or another control character (except HTAB) in a header value,
    including a bare LF or CR used to smuggle a forged log line: 400
  - a header line without a colon, obsolete line folding: 400
  - raw (not percent-encoded) non-ASCII or NUL bytes in the request line: 400
  - a method that is not an upper-case token (`get`, `G{T`) or longer than 20: 400
  - Content-Length with Transfer-Encoding, two Content-Lengths, a negative
    Content-Length, a Transfer-Encoding other than chunked: 400 (no smuggling)
  - a Host header with non-token bytes: 400
  - HTTP/0.9 and HTTP/2.0 request lines, a space in the target: 400
  - a request line over 4094 bytes: 414
  - a header field over 8190 bytes, or more than 100 header fields: 431

The corpus runs over HTTP/2 (h2c, prior knowledge) too: the same requests go out
as HTTP/2 (names lower-cased, `:authority` for Host, content-length from the
body). A request gunicorn refuses must be refused there as well, by its HTTP/2
layer (RST_STREAM or GOAWAY: no body, no line) or answered by the app with a JSON
4xx. What HTTP/2 cannot carry (connection-specific fields, non-UTF-8 bytes, CR, LF
or NUL, values padded with whitespace, a target that is not origin-form) must be
refused, never a 5xx; the test's own assertions then run on the HTTP/1.1 answer
to the same request. Tests of HTTP/1.1's own framing (half bodies, chunks, raw
request lines) use `probe_h1`.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import time
import urllib.parse
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import MakeServer
from tests.support import raw
from tests.support.h2client import H2Client
from tests.support.raw import RawResponse
from tests.support.server import Server

MAX_BODY = 65536
ECHO, JSON4XX, GUNICORN = "echo", "json 4xx", "gunicorn"
PROTOCOLS = ("HTTP/1.1", "HTTP/2")
CONNECTION_SPECIFIC = {b"connection", b"proxy-connection", b"keep-alive", b"transfer-encoding"}
CONNECTION_SPECIFIC.add(b"upgrade")
GUNICORN_STATUSES = {400, 414, 431}
ERROR_KEYS = {"error", "status", "detail"}
HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def hostile(make_module_server: MakeServer) -> Server:
    """One worker with one thread: requests run one after the other, on one set of contextvars."""
    return make_module_server(
        {
            "ECHO_MAX_BODY_BYTES": str(MAX_BODY),
            "ECHO_MAX_DELAY_SECONDS": "0.1",
            "ECHO_THREADS": "1",
            "ECHO_LOG_BODY_BYTES": "256",
        }
    )


class Probe:
    """Sends requests, judges each answer, and checks the server's soundness at the end."""

    def __init__(self, server: Server, protocol: str = "HTTP/1.1") -> None:
        self.server = server
        self.port = server.port
        self.protocol = protocol
        self.lines_before = len(server.lines())
        self.request_ids: list[str] = []

    # -- sending

    def raw(
        self, target: bytes, expect: str, *, method: bytes = b"GET", **kwargs: Any
    ) -> RawResponse:
        if self.protocol == "HTTP/2":
            return self._over_http2(target, expect, method, **kwargs)
        response = raw.request(self.port, target, method=method, **kwargs)
        assert response is not None, f"no answer to {method!r} {target[:80]!r}"
        return self.judge(response.status, response.headers, response.body, expect)

    def _over_http2(
        self,
        target: bytes,
        expect: str,
        method: bytes,
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes = b"",
        timeout: float = 10,
    ) -> RawResponse:
        fields = [(name.lower(), value) for name, value in headers or []]
        if body and not any(
            name in (b"content-length", b"transfer-encoding") for name, _ in fields
        ):
            fields.append((b"content-length", b"%d" % len(body)))
        authority = b"127.0.0.1:%d" % self.port
        pseudo = [(b":method", method), (b":scheme", b"http"), (b":path", target)]
        pseudo.append((b":authority", authority))
        carried = _http2_carries(pseudo + fields, authority)
        with H2Client(self.port, validate=False, timeout=timeout) as client:
            answer = client.request(method, target, fields, body, pseudo=pseudo)
        if answer.refused:
            assert expect == GUNICORN or not carried, f"HTTP/2 refused {pseudo}: {answer}"
            if expect == GUNICORN:
                return RawResponse(0, {}, b"", b"")
            h1 = raw.request(self.port, target, method=method, headers=headers, body=body)
            assert h1 is not None
            return self.judge(h1.status, h1.headers, h1.body, expect)
        assert answer.status is not None, answer
        if expect == GUNICORN or not carried:  # HTTP/2's layer let it through to the app
            expect = ECHO if answer.status == 200 else JSON4XX
        return self.judge(answer.status, answer.headers, answer.body, expect)

    def send(self, data: bytes, expect: str, **kwargs: Any) -> RawResponse:
        assert self.protocol == "HTTP/1.1", "raw bytes are HTTP/1.1 framing: use probe_h1"
        response = raw.send(self.port, data, **kwargs)
        assert response is not None, f"no answer to {data[:80]!r}"
        return self.judge(response.status, response.headers, response.body, expect)

    def http(self, method: str, path: str, expect: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, f"{self.server.url}{path}", timeout=10, **kwargs)
        headers = {key.lower(): value for key, value in response.headers.items()}
        self.judge(response.status_code, headers, response.content, expect)
        return response

    # -- judging

    def judge(self, status: int, headers: dict[str, str], body: bytes, expect: str) -> Any:
        assert status < 500, f"{status}: {body[:300]!r}"
        assert b"Traceback" not in body
        request_id = headers.get("x-request-id")
        if expect == GUNICORN:
            assert status in GUNICORN_STATUSES and request_id is None, (status, body[:200])
            assert headers.get("content-type") == "application/json", (status, body[:200])
            assert headers.get("x-content-type-options") == "nosniff"
            payload = json.loads(body)
            assert set(payload) == ERROR_KEYS and payload["status"] == status, payload
            return RawResponse(status, headers, body, body)
        assert request_id, f"{status} without X-Request-Id: {body[:200]!r}"
        self.request_ids.append(request_id)
        assert headers.get("content-type", "").startswith("application/json"), headers
        payload = json.loads(body)
        if expect == JSON4XX:
            assert 400 <= status < 500 and set(payload) == ERROR_KEYS, (status, payload)
            assert payload["status"] == status
        else:
            assert status == 200, (status, payload)
            assert payload["uuid"] == request_id
        return RawResponse(status, headers, body, body)

    # -- soundness

    def finish(self) -> list[dict[str, Any]]:
        """Assert the server is sound after this test; return this test's new JSON lines."""
        assert requests.get(f"{self.server.url}/health", timeout=5).status_code == 200
        wanted = set(self.request_ids)
        if wanted:
            self.server.wait_for_lines(
                lambda line: line.get("uuid") in wanted and "httpRequest" in line, len(wanted)
            )
        time.sleep(0.05)  # let a stray line (a forged one) land before counting
        lines = self.server.lines()[self.lines_before :]
        parsed = []
        for line in lines:
            value = json.loads(line)  # fails loudly on a line that is not JSON
            assert isinstance(value, dict), line
            parsed.append(value)
        forged = [
            line for line in parsed if line.get("forged") or line.get("severity") == "CRITICAL"
        ]
        assert not forged, forged
        exchange_ids = [line["uuid"] for line in parsed if "httpRequest" in line]
        assert sorted(exchange_ids) == sorted(self.request_ids), (
            "exchange lines != requests that reached the app"
        )
        return parsed


@pytest.fixture(params=PROTOCOLS)
def probe(hostile: Server, request: pytest.FixtureRequest) -> Probe:
    return Probe(hostile, request.param)


@pytest.fixture
def probe_h1(hostile: Server) -> Probe:
    """For HTTP/1.1's own framing: bytes HTTP/2 has no way to say."""
    return Probe(hostile)


def _http2_carries(fields: list[tuple[bytes, bytes]], authority: bytes) -> bool:
    """Whether HTTP/2 can carry these fields at all (RFC 9113 §8.2, §8.3; UTF-8 for gunicorn)."""
    path = dict(fields)[b":path"]
    if not (path.startswith(b"/") or path == b"*"):
        return False
    for name, value in fields:
        bad_name = any(c <= 0x20 or c >= 0x7F or c == 0x3A for c in name.lstrip(b":"))
        if not name or bad_name or name in CONNECTION_SPECIFIC:
            return False
        if (name == b"te" and value.lower() != b"trailers") or (
            name == b"host" and value != authority
        ):
            return False
        if set(value) & {0, 10, 13} or value[:1] in (b" ", b"\t") or value[-1:] in (b" ", b"\t"):
            return False
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


def marker() -> str:
    return f"forged-{secrets.token_hex(4)}"


def forged_entry(text: str) -> str:
    return '\n{"severity":"CRITICAL","message":"' + text + '","forged":true}\n'


# ---------------------------------------------------------------- trace context headers


@pytest.mark.parametrize(
    "traceparent",
    [
        b"00-zz-yy-01",
        b"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # version ff is invalid
        b"00-00000000000000000000000000000000-b7ad6b7169203331-01",  # all-zero trace id
        b"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # all-zero parent id
        b"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",  # upper case
        b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-zz",
        b"\xff\xfe\xfd",
        b"-" * 55,
        b"00-" + b"0af7651916cd43dd" * 500,  # 8 kB, just under gunicorn's field limit
        b"",
    ],
)
def test_malformed_traceparent_starts_a_new_trace(probe: Probe, traceparent: bytes) -> None:
    response = probe.raw(b"/anything", ECHO, headers=[(b"traceparent", traceparent)])
    trace = response.json()["trace"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace["trace_id"]) and trace["trace_id"] != "0" * 32
    assert response.headers["traceresponse"] == f"00-{trace['trace_id']}-{trace['span_id']}-01"
    probe.finish()


@pytest.mark.parametrize(
    "context",
    [
        b"nothex/notnum;o=9",
        b"0af7651916cd43dd8448eb211c80319c/18446744073709551616;o=1",  # span id over 64 bits
        b"0af7651916cd43dd8448eb211c80319c/-5;o=1",
        b"/;o=",
        b"zz/1",
        b"0af7651916cd43dd8448eb211c80319c/" + b"9" * 7000 + b";o=1",
        b"\xff" * 100,
    ],
)
def test_malformed_cloud_trace_context_is_survived(probe: Probe, context: bytes) -> None:
    response = probe.raw(b"/anything", ECHO, headers=[(b"X-Cloud-Trace-Context", context)])
    assert re.fullmatch(r"[0-9a-f]{32}", response.json()["trace"]["trace_id"])
    probe.finish()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@given(value=st.from_regex(rb"\A[ -~\x80-\xff]{0,200}\Z"))
@HYPOTHESIS
def test_any_traceparent_value_is_survived(hostile: Server, protocol: str, value: bytes) -> None:
    probe = Probe(hostile, protocol)
    response = probe.raw(b"/anything", ECHO, headers=[(b"traceparent", value)])
    trace = response.json()["trace"]
    valid = re.fullmatch(rb"\s*00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}\s*", value)
    if valid and valid[1] != b"0" * 32 and valid[2] != b"0" * 16:
        assert trace["trace_id"] == valid[1].decode()
    probe.finish()


# ---------------------------------------------------------------- bytes that are not UTF-8, NULs


def test_invalid_utf8_body_is_echoed_as_base64(probe: Probe) -> None:
    body = b"\xff\xfe\x00\xc3\x28 not utf-8 \xed\xa0\x80"
    record = probe.raw(b"/anything", ECHO, method=b"POST", body=body).json()
    assert record["data_encoding"] == "base64"
    assert base64.b64decode(record["data"]) == body
    probe.finish()


def test_invalid_utf8_json_body_is_a_json_error(probe: Probe) -> None:
    headers = [(b"Content-Type", b"application/json")]
    record = probe.raw(
        b"/anything", ECHO, method=b"POST", headers=headers, body=b'{"a":"\xff"}'
    ).json()
    assert record["json"] is None and record["json_error"]
    probe.finish()


def test_invalid_utf8_header_value_is_echoed_as_latin1(probe: Probe) -> None:
    record = probe.raw(b"/anything", ECHO, headers=[(b"X-Bytes", b"\xff\xfe\xc3(")]).json()
    assert record["headers"]["X-Bytes"] == "\xff\xfe\xc3("
    probe.finish()


def test_invalid_utf8_percent_encoded_in_path_and_query_is_echoed(probe: Probe) -> None:
    record = probe.raw(b"/anything/%ff%fe/%E2%82%AC?q=%ff&r=%E2%82%AC&%fe=1", ECHO).json()
    assert record["path"].startswith("/anything/") and record["path"].endswith("/€")
    assert record["args"]["r"] == "€" and record["query_string"] == "q=%ff&r=%E2%82%AC&%fe=1"
    probe.finish()


@pytest.mark.parametrize(
    "target",
    [
        b"/anything/\xff\xfe",
        b"/anything?a=\xff",
        "/status/\uff12\uff10\uff10".encode(),
        b"/anything/\x00x",
    ],
)
def test_raw_non_ascii_or_nul_in_the_request_line_is_refused_by_gunicorn(
    probe: Probe, target: bytes
) -> None:
    probe.raw(target, GUNICORN)
    probe.finish()


def test_nul_bytes_percent_encoded_and_in_bodies_are_echoed(probe: Probe) -> None:
    record = probe.raw(b"/anything/a%00b?k%00=v%00", ECHO, method=b"POST", body=b"a\x00b").json()
    assert record["path"] == "/anything/a\x00b"
    assert record["args"] == {"k\x00": "v\x00"}
    assert record["data"] == "a\x00b"
    form = probe.raw(
        b"/anything",
        ECHO,
        method=b"POST",
        headers=[(b"Content-Type", b"application/x-www-form-urlencoded")],
        body=b"f%00=%00",
    ).json()
    assert form["form"] == {"f\x00": "\x00"}
    probe.finish()


def test_nul_in_a_header_value_is_refused_by_gunicorn(probe: Probe) -> None:
    probe.raw(b"/anything", GUNICORN, headers=[(b"X-Nul", b"a\x00b")])
    probe.finish()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@given(value=st.binary(max_size=300).filter(lambda b: not set(b) & (set(range(32)) - {9} | {127})))
@HYPOTHESIS
def test_any_legal_header_value_is_echoed_as_sent(
    hostile: Server, protocol: str, value: bytes
) -> None:
    probe = Probe(hostile, protocol)
    record = probe.raw(b"/anything", ECHO, headers=[(b"X-Fuzz", value)]).json()
    assert record["headers"]["X-Fuzz"] == value.strip(b" \t").decode("latin-1")
    probe.finish()


@pytest.mark.parametrize("protocol", PROTOCOLS)
# CR LF inside a value is not a byte of the value but the end of its line: with an empty
# line after, the head ends there and the rest is another request on the connection (gunicorn
# answers the first one, rightly). Line ends in a value: test_header_with_lf_cannot_forge_a_log_line.
@given(value=st.binary(min_size=1, max_size=100).filter(lambda value: b"\r\n" not in value))
@HYPOTHESIS
def test_header_values_with_control_bytes_are_refused_or_echoed(
    hostile: Server, protocol: str, value: bytes
) -> None:
    probe = Probe(hostile, protocol)
    illegal = set(value) & (set(range(32)) - {9} | {127})
    response = probe.raw(b"/anything", GUNICORN if illegal else ECHO, headers=[(b"X-Fuzz", value)])
    if not illegal:
        assert response.json()["headers"]["X-Fuzz"] == value.strip(b" \t").decode("latin-1")
    probe.finish()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@given(path=st.binary(max_size=100), query=st.binary(max_size=100))
@HYPOTHESIS
def test_any_percent_encoded_path_and_query_is_echoed(
    hostile: Server, protocol: str, path: bytes, query: bytes
) -> None:
    path = path.replace(
        b"\n", b""
    )  # a line break in the path: test_a_newline_in_the_path_is_echoed
    probe = Probe(hostile, protocol)
    target = b"/anything/" + urllib.parse.quote_from_bytes(path, safe="").encode()
    target += b"?q=" + urllib.parse.quote_from_bytes(query, safe="").encode()
    record = probe.raw(target, ECHO).json()
    assert record["path"].startswith("/anything")
    assert record["query_string"] == target.partition(b"?")[2].decode()
    probe.finish()


@given(
    body=st.binary(max_size=2000),
    content_type=st.sampled_from(
        [
            b"application/json",
            b"application/x-www-form-urlencoded",
            b"multipart/form-data; boundary=B",
            b"multipart/form-data",
            b"text/plain; charset=utf-8",
            b"application/octet-stream",
            b"application/json; charset=latin-1",
            b"\xff/\xfe",
        ]
    ),
)
@HYPOTHESIS
def test_any_body_of_any_type_is_echoed_or_refused_as_json(
    hostile: Server, body: bytes, content_type: bytes
) -> None:
    probe = Probe(hostile)
    headers = [(b"Content-Type", content_type)]
    response = raw.request(hostile.port, b"/anything", method=b"POST", headers=headers, body=body)
    assert response is not None
    probe.judge(
        response.status,
        response.headers,
        response.body,
        ECHO if response.status == 200 else JSON4XX,
    )
    probe.finish()


# ---------------------------------------------------------------- log injection


def test_header_with_lf_cannot_forge_a_log_line(probe_h1: Probe) -> None:
    # HTTP forbids raw CR/LF in a header value: gunicorn refuses the request.
    fake = forged_entry(marker()).encode()
    for line_end in (b"\n", b"\r", b"\r\n"):
        payload = fake.replace(b"\n", line_end)
        request = (
            b"GET /anything HTTP/1.1\r\nHost: x\r\nUser-Agent: agent"
            + payload.rstrip(b"\r\n")
            + b"\r\n"
            b"Connection: close\r\n\r\n"
        )
        probe_h1.send(request, GUNICORN)
    probe_h1.finish()


def test_percent_encoded_newlines_in_the_query_stay_inside_the_line(probe: Probe) -> None:
    text = marker()
    encoded = urllib.parse.quote(forged_entry(text), safe="").encode()
    record = probe.raw(b"/anything?q=" + encoded + b"&" + encoded + b"=1", ECHO).json()
    assert record["args"]["q"] == forged_entry(text)
    lines = probe.finish()
    (line,) = [
        line for line in lines if line.get("uuid") == record["uuid"] and "httpRequest" in line
    ]
    assert line["request"]["args"]["q"] == forged_entry(text)  # escaped inside the exchange line


@pytest.mark.parametrize(
    "path", [b"/anything/a%0Ab", b"/a%0Ab", b"/x%0D%0A", b"/anything/%0A{%22forged%22:1}"]
)
def test_a_newline_in_the_path_is_echoed(probe: Probe, path: bytes) -> None:
    # Any path echoes, a percent-encoded line break included; the log line escapes it.
    record = probe.raw(path, ECHO).json()
    assert record["path"] == urllib.parse.unquote(path.decode())
    probe.finish()


@pytest.mark.parametrize(
    "body",
    [
        forged_entry("FORGED").encode(),
        b'{"a": "x\\n{\\"severity\\":\\"CRITICAL\\",\\"forged\\":true}"}',
        '{"a": "line\u2028separator\u2029"}'.encode(),
        b"\r" + forged_entry("FORGED").encode().replace(b"\n", b"\r"),
    ],
)
def test_bodies_with_newlines_cannot_forge_a_log_line(probe: Probe, body: bytes) -> None:
    probe.raw(
        b"/anything",
        ECHO,
        method=b"POST",
        headers=[(b"Content-Type", b"application/json")],
        body=body,
    )
    probe.finish()


def test_cookies_and_user_agent_cannot_forge_a_log_line(probe: Probe) -> None:
    text = urllib.parse.quote(forged_entry(marker())).encode()
    probe.raw(
        b"/anything",
        ECHO,
        headers=[(b"Cookie", b"c=" + text), (b"User-Agent", text), (b"Referer", text)],
    )
    probe.finish()


@pytest.mark.parametrize("newline", ["%0D%0A", "%0A", "%0D", "%0B", "%0C", "%85"])
def test_content_type_control_with_line_breaks_is_a_400(probe: Probe, newline: str) -> None:
    # The control's value becomes a response header: it must never carry a line break
    # (response splitting), and a value that cannot be a header is the caller's error.
    target = f"/anything?x-set-response-content-type=text/plain;{newline}Set-Cookie=x"
    probe.raw(target.encode(), JSON4XX)
    probe.finish()


def test_refused_requests_are_not_logged_as_another_request(probe_h1: Probe) -> None:
    # gunicorn's "Invalid request" line is written outside any request: it must not
    # carry the uuid of the request the same thread served before. (Its HTTP/2 layer
    # logs a refusal at DEBUG only.)
    before = probe_h1.raw(b"/anything", ECHO).json()["uuid"]
    probe_h1.raw(b"/anything", GUNICORN, headers=[(b"X-Nul", b"\x00")])
    lines = probe_h1.finish()
    refusals = [line for line in lines if "Invalid request" in str(line.get("message"))]
    assert refusals, "gunicorn logged no refusal"
    assert all(line.get("uuid") != before for line in refusals), refusals


# ---------------------------------------------------------------- sizes: headers, bodies, forms, JSON


def test_large_header_within_gunicorns_limit_is_echoed(probe: Probe) -> None:
    record = probe.raw(b"/anything", ECHO, headers=[(b"X-Big", b"a" * 8000)]).json()
    assert record["headers"]["X-Big"] == "a" * 8000
    probe.finish()


def test_header_over_gunicorns_field_limit_is_refused(probe: Probe) -> None:
    probe.raw(b"/anything", GUNICORN, headers=[(b"X-Big", b"a" * 9000)])
    probe.finish()


def test_many_headers_within_the_limit_are_echoed(probe: Probe) -> None:
    record = probe.raw(b"/anything", ECHO, headers=[(b"X-H%d" % i, b"v") for i in range(90)]).json()
    assert sum(key.startswith("X-H") for key in record["headers"]) == 90
    probe.finish()


@pytest.mark.parametrize("count", [101, 1000])
def test_too_many_headers_are_refused(probe: Probe, count: int) -> None:
    probe.raw(b"/anything", GUNICORN, headers=[(b"X-H%d" % i, b"v") for i in range(count)])
    probe.finish()


def test_request_line_over_the_limit_is_refused(probe: Probe) -> None:
    probe.raw(b"/" + b"a" * 9000, GUNICORN)
    probe.finish()


def test_chunked_body_over_the_limit_is_a_json_413(probe: Probe) -> None:
    headers = [(b"Transfer-Encoding", b"chunked")]
    body = raw.chunked([b"x" * 8192] * (MAX_BODY // 8192 + 2))
    probe.raw(b"/anything", JSON4XX, method=b"POST", headers=headers, body=body)
    probe.finish()


def test_chunked_body_at_the_limit_is_echoed(probe: Probe) -> None:
    headers = [(b"Transfer-Encoding", b"chunked")]
    record = probe.raw(
        b"/anything",
        ECHO,
        method=b"POST",
        headers=headers,
        body=raw.chunked([b"y" * 4096] * (MAX_BODY // 4096)),
    ).json()
    assert record["body_size"] == MAX_BODY
    probe.finish()


def test_content_length_over_the_limit_is_a_json_413_without_reading_it(probe_h1: Probe) -> None:
    # The client announces 1 GB and sends nothing: the answer must not wait for it.
    request = b"POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n"
    response = probe_h1.send(request, JSON4XX, timeout=5, half_close=True)
    assert response.status == 413
    probe_h1.finish()


def test_invalid_chunk_size_is_a_400(probe_h1: Probe) -> None:
    request = (
        b"POST /anything HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"zz\r\nabc\r\n0\r\n\r\n"
    )
    probe_h1.send(request, JSON4XX)
    probe_h1.finish()


@pytest.mark.parametrize(
    "extra",
    [
        b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
        b"Content-Length: 3\r\nContent-Length: 4\r\n",
        b"Content-Length: -1\r\n",
        b"Transfer-Encoding: gzip\r\n",
        b"X-Fold: a\r\n b\r\n",
        b"NoColon\r\n",
    ],
)
def test_ambiguous_framing_is_refused_by_gunicorn(probe_h1: Probe, extra: bytes) -> None:
    probe_h1.send(
        b"POST /anything HTTP/1.1\r\nHost: x\r\n" + extra + b"Connection: close\r\n\r\nabcd",
        GUNICORN,
    )
    probe_h1.finish()


def test_content_length_larger_than_the_body_then_half_close(probe_h1: Probe) -> None:
    # The client promises 100 bytes, sends 3 and shuts its side: the server answers
    # (an echo of what arrived, or a JSON 4xx) and keeps serving.
    request = b"POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"
    response = raw.send(probe_h1.port, request, half_close=True)
    assert response is not None
    probe_h1.judge(
        response.status,
        response.headers,
        response.body,
        ECHO if response.status == 200 else JSON4XX,
    )
    if response.status == 200:
        assert response.json()["data"] == "abc" and response.json()["body_size"] == 3
    probe_h1.finish()


def test_content_length_larger_than_the_body_then_close(probe_h1: Probe) -> None:
    # The client gives up without reading: whatever the app logs, it keeps answering.
    with socket.create_connection(("127.0.0.1", probe_h1.port), timeout=5) as sock:
        sock.sendall(b"POST /anything HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
    for _ in range(3):
        probe_h1.raw(b"/anything", ECHO)
    time.sleep(0.2)
    # The abandoned request may or may not have produced an exchange line; count it if so.
    lines = [json.loads(line) for line in probe_h1.server.lines()[probe_h1.lines_before :]]
    probe_h1.request_ids += [
        line["uuid"]
        for line in lines
        if "httpRequest" in line
        and line["uuid"] not in probe_h1.request_ids
        and line["httpRequest"]["requestMethod"] == "POST"
    ]
    probe_h1.finish()


def test_truncated_chunked_body_then_half_close_is_a_json_400(probe_h1: Probe) -> None:
    request = b"POST /anything HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"
    response = raw.send(probe_h1.port, request, half_close=True)
    assert response is not None
    probe_h1.judge(response.status, response.headers, response.body, JSON4XX)
    probe_h1.finish()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (b"multipart/form-data", b"--x\r\nabc"),  # no boundary parameter
        (b"multipart/form-data; boundary=", b"--\r\nabc\r\n"),  # empty boundary
        (
            b"multipart/form-data; boundary=B",
            b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nval',
        ),
        (b"multipart/form-data; boundary=B", b"garbage only"),
        (b"multipart/form-data; boundary=B", b"--B\r\nbad header line\r\n\r\nx\r\n--B--\r\n"),
        (
            b"multipart/form-data; boundary=B",
            b'--B\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n\r\n\x00\x01',
        ),
    ],
)
def test_broken_multipart_is_echoed_or_a_json_400(
    probe: Probe, content_type: bytes, body: bytes
) -> None:
    response = raw.request(
        probe.port,
        b"/anything",
        method=b"POST",
        headers=[(b"Content-Type", content_type)],
        body=body,
    )
    assert response is not None
    probe.judge(
        response.status,
        response.headers,
        response.body,
        ECHO if response.status == 200 else JSON4XX,
    )
    probe.finish()


def test_form_with_thousands_of_urlencoded_fields_is_echoed(probe: Probe) -> None:
    body = "&".join(f"f{i}=v{i}" for i in range(5000)).encode()
    headers = [(b"Content-Type", b"application/x-www-form-urlencoded")]
    record = probe.raw(b"/anything", ECHO, method=b"POST", headers=headers, body=body).json()
    assert len(record["form"]) == 5000 and record["form"]["f4999"] == "v4999"
    probe.finish()


def test_multipart_with_thousands_of_parts_is_echoed_or_a_json_413(probe: Probe) -> None:
    parts = b"".join(
        b'--B\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(3000)
    )
    headers = [(b"Content-Type", b"multipart/form-data; boundary=B")]
    response = raw.request(
        probe.port, b"/anything", method=b"POST", headers=headers, body=parts + b"--B--\r\n"
    )
    assert response is not None
    probe.judge(
        response.status,
        response.headers,
        response.body,
        ECHO if response.status == 200 else JSON4XX,
    )
    assert response.status in (200, 413)
    probe.finish()


@pytest.mark.parametrize(
    "body",
    [b"[" * 30000 + b"]" * 30000, b'{"a":' * 10000 + b"1" + b"}" * 10000, b"[" * 60000],
    ids=["array", "object", "unclosed"],
)
def test_deeply_nested_json_is_a_json_error_not_a_crash(probe: Probe, body: bytes) -> None:
    headers = [(b"Content-Type", b"application/json")]
    record = probe.raw(b"/anything", ECHO, method=b"POST", headers=headers, body=body).json()
    assert record["json"] is None and record["json_error"]
    assert record["body_size"] == len(body)
    probe.finish()


# ---------------------------------------------------------------- controls out of range


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"x-set-response-status-code", b"9" * 5000),  # past Python's int() digit limit
        (b"x-set-response-status-code", b"0" * 4400 + b"200"),
        (b"x-set-response-status-code", b"1e3"),
        (
            b"x-set-response-status-code",
            b"\xd9\xa2\xd9\xa0\xd9\xa0",
        ),  # Arabic-Indic 200, latin-1 read
        (b"x-set-response-delay-ms", b"1e400"),
        (b"x-set-response-delay-ms", b"-0.001"),
        (b"x-set-response-delay-ms", b"NaN"),
        (b"x-set-response-delay-ms", b"0x10"),
        (b"x-set-response-delay-ms", b"9" * 5000),  # overflows a float, like 1e400
        (b"x-set-response-content-type", b"text/plain;\tx"),
    ],
)
def test_out_of_range_control_header_is_a_json_400(probe: Probe, name: bytes, value: bytes) -> None:
    response = probe.raw(b"/anything", JSON4XX, headers=[(name, value)])
    assert response.status == 400 and name.decode() in response.json()["detail"]
    probe.finish()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"x-set-response-delay-ms", b"9" * 300),  # capped at ECHO_MAX_DELAY_SECONDS
        (b"x-set-response-delay-ms", b"0" * 5000),
        (b"x-set-response-delay-ms", b"1.7976931348623157e308"),
    ],
)
def test_huge_delay_is_capped_not_refused(probe: Probe, name: bytes, value: bytes) -> None:
    probe.raw(b"/anything", ECHO, headers=[(name, value)])
    probe.finish()


@pytest.mark.parametrize(
    "target",
    [
        b"/status/0",
        b"/status/" + b"9" * 4000,
        b"/status/%32%30%30",  # percent-encoded digits are digits
        b"/delay/1e400",
        b"/delay/-0.0001",
        b"/delay/nan",
        b"/anything?x-set-response-status-code=" + b"9" * 4000,
        b"/anything?x-set-response-status-code=%00",
        b"/anything?x-set-response-delay-ms=%ff",
        b"/anything?x-set-response-content-type=%ff/%fe",
    ],
)
def test_out_of_range_control_in_the_url_is_a_json_400(probe: Probe, target: bytes) -> None:
    expect = ECHO if target == b"/status/%32%30%30" else JSON4XX
    response = probe.raw(target, expect)
    assert response.status == (200 if expect == ECHO else 400)
    probe.finish()


# ---------------------------------------------------------------- methods and request targets


@pytest.mark.parametrize(
    "method", [b"FOOBAR", b"PROPFIND", b"M-SEARCH", b"PURGE", b"X_Y.Z~1", b"BREW"]
)
def test_unknown_methods_are_echoed(probe: Probe, method: bytes) -> None:
    record = probe.raw(b"/anything", ECHO, method=method, body=b"x").json()
    assert record["method"] == method.decode()
    probe.finish()


@pytest.mark.parametrize("method", [b"get", b"G{T", b"A" * 40, b"GET\x00"])
def test_malformed_methods_are_refused_by_gunicorn(probe: Probe, method: bytes) -> None:
    probe.raw(b"/anything", GUNICORN, method=method)
    probe.finish()


def test_random_methods_keep_metric_series_bounded(probe: Probe) -> None:
    methods = [f"X{secrets.token_hex(6).upper()}" for _ in range(20)]
    for method in methods:
        probe.raw(b"/anything", ECHO, method=method.encode())
    metrics = requests.get(f"{probe.server.url}/metrics", timeout=5).text
    assert not [method for method in methods if method in metrics]
    assert 'http_request_method="_OTHER"' in metrics
    probe.finish()


def test_absolute_form_target_is_echoed_as_its_path(probe: Probe) -> None:
    record = probe.raw(b"http://example.com/x/y?q=1", ECHO).json()
    assert (record["path"], record["args"]) == ("/x/y", {"q": "1"})
    probe.finish()


@pytest.mark.parametrize("target", [b"*", b"//double//slashes", b"/./../..", b"/%2e%2e/%2F"])
def test_odd_targets_are_echoed(probe: Probe, target: bytes) -> None:
    probe.raw(target, ECHO, method=b"OPTIONS" if target == b"*" else b"GET")
    probe.finish()


@pytest.mark.parametrize(
    "request_line",
    [b"GET /anything\r\n", b"GET /anything HTTP/2.0\r\n", b"GET /any thing HTTP/1.1\r\n"],
)
def test_malformed_request_lines_are_refused_by_gunicorn(
    probe_h1: Probe, request_line: bytes
) -> None:
    probe_h1.send(request_line + b"Host: x\r\nConnection: close\r\n\r\n", GUNICORN)
    probe_h1.finish()


def test_http_1_0_without_host_is_echoed(probe_h1: Probe) -> None:
    probe_h1.send(b"GET /anything HTTP/1.0\r\n\r\n", ECHO)
    probe_h1.finish()


def test_tls_handshake_on_the_plain_port_gets_no_5xx(probe_h1: Probe) -> None:
    hello = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(64))
    response = raw.send(probe_h1.port, hello, half_close=True, timeout=5)
    assert response is None or response.status in GUNICORN_STATUSES
    probe_h1.finish()
