"""The record's parts computed in one pass over the environ equal what werkzeug computes.

`requestparts.read_headers` (headers, trace headers, Cookie), `requestparts.cookies`, `body.has_body`,
`tracecontext.described` and the short ways of `traceheaders.traceparent` and
`control.read` are compared with the werkzeug properties and the general code they
stand in for, on generated requests.
"""

from __future__ import annotations

import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from service.echo import body, control, requestparts
from service.server import connection
from service.telemetry import tracecontext, traceheaders

_HEADER_NAMES = st.sampled_from(
    [
        "HTTP_COOKIE", "HTTP_TRACEPARENT", "HTTP_TRACESTATE", "HTTP_X_CLOUD_TRACE_CONTEXT",
        "HTTP_BAGGAGE", "HTTP_B3", "HTTP_X_B3_TRACEID", "HTTP_X_B3_SPANID", "HTTP_X_B3_SAMPLED",
        "HTTP_X_B3_FLAGS", "HTTP_X_B3_PARENTSPANID", "HTTP_Cookie", "HTTP_traceparent",
        "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH",
        "CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_X__ODD__NAME_", "HTTP_", "HTTP_ÉTÉ", "HTTPX",
        "wsgi.version", "REMOTE_ADDR", "HTTP_X_SET_RESPONSE_STATUS_CODE",
    ]
)  # fmt: skip
_COOKIE_PARTS = st.sampled_from(
    ["a=1", "b=2", "a=3", "s=x=y", "e=", "k", '"q"', 'q="a b"', 'q="\\101\\"x"', "t=a b",
     " ", "\t", ";", "; ", "=", "n =v", "n= v", "é=ü", "a\nb=c", "x=\"", ",", "$Path=/"]
)  # fmt: skip
_COOKIES = st.lists(_COOKIE_PARTS, max_size=8).map("".join) | st.lists(
    st.sampled_from(["a=1", "b=2", "a=3", "id=6f1c", "t=dark", "e=", "x=a=b"]), max_size=6
).map("; ".join)
_TRACEPARENTS = st.sampled_from(
    [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "02-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n",
        "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        "",
        "garbage",
    ]
)
_VALUES = _TRACEPARENTS | _COOKIES | st.sampled_from(["", "1", "0", "text/plain", "a;o=1"])


def _werkzeug_headers(environ: dict[str, Any]) -> dict[str, str]:
    # What the record's headers were before the one pass (a dict of EnvironHeaders' names,
    # HTTP_CONTENT_* included).
    headers = {
        key[5:].replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").title()] = environ[key]
    return headers


@settings(max_examples=2000, deadline=None)
@given(items=st.lists(st.tuples(_HEADER_NAMES, _VALUES), max_size=10))
def test_one_pass_reads_what_werkzeug_and_describe_read(items: list[tuple[str, str]]) -> None:
    environ = dict(items)
    headers, arrived, cookie = requestparts.read_headers(environ)
    expected = _werkzeug_headers(environ)
    assert headers == expected and list(headers) == list(expected)
    assert cookie == ";".join(Request(environ).headers.getlist("Cookie"))
    assert requestparts.cookies(Request(environ), cookie) == Request(environ).cookies.to_dict()
    assert tracecontext.described(arrived, None) == tracecontext.describe(expected, None)
    assert list(tracecontext.described(arrived, None)["headers"]) == list(
        tracecontext.describe(expected, None)["headers"]
    )


@settings(max_examples=3000, deadline=None)
@given(header=_COOKIES)
def test_cookies_are_werkzeugs(header: str) -> None:
    environ = {**EnvironBuilder().get_environ(), "HTTP_COOKIE": header}
    expected = Request(environ).cookies.to_dict()
    found = requestparts.cookies(Request(environ), header)
    assert found == expected and list(found) == list(expected)


@settings(max_examples=500, deadline=None)
@given(value=_TRACEPARENTS | st.text(alphabet="0123456789abcdefABF-\n ", max_size=60))
def test_the_short_traceparent_is_the_parser(value: str) -> None:
    expected = traceheaders._parsed(value, traceheaders._traceparent_fields)
    found = traceheaders.traceparent(value)
    assert found == expected and list(found) == list(expected)


def test_the_agreement_is_counted_as_before() -> None:
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    described = tracecontext.described(
        {"traceparent": tp, "x-cloud-trace-context": "4bf92f3577b34da6a3ce929d0e0e4736/1;o=0"},
        None,
    )
    assert described["agree"] == {"trace_id": True, "span_id": False, "sampled": False}
    assert tracecontext.described({"traceparent": tp}, None)["agree"] == {
        "trace_id": None,
        "span_id": None,
        "sampled": None,
    }


class _Wire:
    body_complete = None
    body_timed_out = False

    def break_with(self, fault: str) -> None:
        raise AssertionError(fault)


@settings(max_examples=1000, deadline=None)
@given(
    length=st.sampled_from([None, "", "0", "00", "3", "-1", "x"]),
    chunked=st.sampled_from([None, "chunked", "gzip"]),
    terminated=st.booleans(),
)
def test_no_body_only_when_reading_gives_none(
    length: str | None, chunked: str | None, terminated: bool
) -> None:
    environ = EnvironBuilder(method="POST").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BytesIO(b"abc")
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    if chunked is not None:
        environ["HTTP_TRANSFER_ENCODING"] = chunked
    if terminated:  # as gunicorn's HTTP/2 streams (no wire): the stream is read to its end
        environ["wsgi.input_terminated"] = True
    if not body.has_body(environ):
        assert Request(environ).get_data() == b""
    if terminated:
        assert body.has_body(environ)


def test_on_the_wire_no_length_and_no_chunks_is_no_body() -> None:
    environ = EnvironBuilder().get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input_terminated": True, connection.ENVIRON_KEY: _Wire()})
    assert not body.has_body(environ)
    assert not body.has_body({**environ, "CONTENT_LENGTH": "0"})
    assert body.has_body({**environ, "CONTENT_LENGTH": "2"})
    assert body.has_body({**environ, "HTTP_TRANSFER_ENCODING": "chunked"})


_QUERIES = st.lists(
    st.sampled_from(
        ["x-set-response-status-code=201", "X-Set-Response-Status-Code=202", "a=1", "&",
         "x-set-response-delay-ms=0", "x%2Dset-response-content-type=text/plain", "%zz", "+",
         "x-set-response-status-codes=1", "x-set-response-fault=bogus", "q=x-set-response-"]
    ),
    max_size=4,
).map("&".join)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(query=_QUERIES, header=st.sampled_from([None, "204", "bad"]))
def test_controls_read_in_short_are_the_ones_looked_up(query: str, header: str | None) -> None:
    environ = EnvironBuilder(query_string=query).get_environ()
    if header is not None:
        environ["HTTP_X_SET_RESPONSE_STATUS_CODE"] = header
    req = Request(environ)
    looked_up = [control._lookup(req, name) for name in control._NAMES]
    if all(value is None for value in looked_up):
        assert control.read(req, 1.0, False) == control.Controls()
    assert control._in_query(environ) or all(req.args.get(n) is None for n in control._NAMES)
