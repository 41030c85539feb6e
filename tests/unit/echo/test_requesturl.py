"""The request URL joined from its parts equals werkzeug's `Request.url`, whatever the parts."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from service.echo import requesturl
from service.echo.body import EchoRequest

# Characters that take every branch: plain ones, sub-delimiters, "%" escapes, "?" and "#",
# spaces, controls, non-ASCII, brackets and colons of IPv6, dots and dashes of names.
_PATH_CHARS = st.sampled_from(
    [*"aZ09-._~!$&'()*+,/:;=@%?# \t\"<>[]{}|\\^`é☃\x7f", "%41", "%2F", "%zz"]
)
_HOSTS = st.sampled_from(
    [
        "localhost", "localhost:8080", "LOCALHOST", "127.0.0.1:80", "127.0.0.1:080",
        "a.b-c.example", "example.com.", "a..b", "xn--n3h.net", "sub.xn--n3h.net:8443",
        "[::1]:8080", "[::1]", "host:0", "host:65535", "host:65536", "host:99999", "ex ample",
        "é.example", "a" * 64 + ".example", "-x-.example", "h:", "",
    ]
)  # fmt: skip


def _environ(scheme: str, host: str, root: str, path: str, query: str) -> dict[str, Any]:
    environ = EnvironBuilder(path="/", base_url=f"{scheme}://localhost/").get_environ()
    environ.update(
        {
            "wsgi.url_scheme": scheme,
            "HTTP_HOST": host,
            "SCRIPT_NAME": root.encode("utf-8", "replace").decode("latin-1"),
            "PATH_INFO": path.encode("utf-8", "replace").decode("latin-1"),
            "QUERY_STRING": query.encode("utf-8", "replace").decode("latin-1"),
        }
    )
    return environ


@settings(max_examples=3000, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "ws", "HTTP"]),
    host=_HOSTS,
    root=st.one_of(st.just(""), st.lists(_PATH_CHARS, max_size=6).map(lambda c: "/" + "".join(c))),
    path=st.lists(_PATH_CHARS, max_size=12).map(lambda c: "/" + "".join(c)),
    query=st.lists(_PATH_CHARS, max_size=12).map("".join),
)
def test_the_joined_url_is_werkzeugs(
    scheme: str, host: str, root: str, path: str, query: str
) -> None:
    environ = _environ(scheme, host, root, path, query)
    assert EchoRequest(dict(environ)).url == Request(dict(environ)).url


def test_the_usual_request_takes_the_short_way() -> None:
    environ = _environ("http", "127.0.0.1:8080", "", "/anything/a-b_c.json", "x=1&y=a,b")
    assert (
        requesturl.plain(Request(environ)) == "http://127.0.0.1:8080/anything/a-b_c.json?x=1&y=a,b"
    )


def test_anything_werkzeug_would_rewrite_goes_to_werkzeug() -> None:
    for host, path, query in [
        ("xn--n3h.net", "/", ""),
        ("[::1]:8080", "/", ""),
        ("localhost", "/%41", ""),
        ("localhost", "/é", ""),
        ("localhost", "/", "q=%C3%A8"),
        ("localhost:080", "/", ""),
    ]:
        assert requesturl.plain(Request(_environ("http", host, "", path, query))) is None
