"""httpbin's request inspection, auth, cookies and redirects through a real gunicorn.

Adapted from psf/httpbin's test_httpbin.py and go-httpbin's handler tests:
their observable assertions, against echoscope.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid

import pytest
import requests
from requests.auth import HTTPDigestAuth
from werkzeug.http import parse_dict_header

from tests.support.server import Server

# ---------------------------------------------------------------- request inspection


def test_get(httpbin: Server) -> None:
    response = requests.get(f"{httpbin.url}/get", headers={"User-Agent": "test"}, timeout=5)
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"args", "headers", "origin", "url"}
    assert data["args"] == {} and data["headers"]["User-Agent"] == "test"
    assert data["origin"] == "127.0.0.1"
    assert re.fullmatch(r"http://[^/]*/get", data["url"])
    assert response.content.endswith(b"\n")


def test_get_repeated_args_are_lists(httpbin: Server) -> None:
    data = requests.get(f"{httpbin.url}/get?a=1&a=2&b=3", timeout=5).json()
    assert data["args"] == {"a": ["1", "2"], "b": "3"}


@pytest.mark.parametrize(("path", "method"), [("/get", "POST"), ("/post", "GET"), ("/put", "POST"),
                                              ("/patch", "GET"), ("/delete", "GET"), ("/headers", "PUT")])  # fmt: skip
def test_a_path_for_one_method_answers_a_json_405_for_others(
    httpbin: Server, path: str, method: str
) -> None:
    response = requests.request(method, f"{httpbin.url}{path}", timeout=5)
    assert response.status_code == 405
    assert response.json()["status"] == 405
    assert "Allow" in response.headers


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_methods_with_bodies(httpbin: Server, method: str) -> None:
    response = requests.request(
        method, f"{httpbin.url}/{method.lower()}?x=1", data={"name": "kevin"}, timeout=5
    )
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"args", "data", "files", "form", "headers", "json", "origin", "url"}
    assert data["form"] == {"name": "kevin"} and data["args"] == {"x": "1"}


def test_post_json_and_unicode(httpbin: Server) -> None:
    data = requests.post(f"{httpbin.url}/post", json={"animal": "dog"}, timeout=5).json()
    assert data["json"] == {"animal": "dog"} and data["data"] == '{"animal": "dog"}'
    text = "оживлённым"
    assert (
        requests.post(f"{httpbin.url}/post", data=text.encode(), timeout=5).json()["data"] == text
    )


def test_post_binary_is_a_data_url(httpbin: Server) -> None:
    body = b"\x01\x02\x03\x81\x82\x83"
    response = requests.post(
        f"{httpbin.url}/post",
        data=body,
        headers={"Content-Type": "application/octet-stream"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["data"] == "data:application/octet-stream;base64,AQIDgYKD"


def test_post_chunked_is_read(httpbin: Server) -> None:
    # psf/httpbin refuses chunked bodies with 501 outside gunicorn; echoscope reads them.
    data = requests.post(f"{httpbin.url}/post", data=iter([b'{"animal":', b'"dog"}']),
                         headers={"Content-Type": "application/json"}, timeout=5).json()  # fmt: skip
    assert data["json"] == {"animal": "dog"}


def test_post_files_are_described_never_echoed(httpbin: Server) -> None:
    content = b"\xa5\xc6\n secret file content"
    response = requests.post(
        f"{httpbin.url}/post",
        files=[("media", ("test.bin", content, "application/octet-stream")),
               ("media", ("b.txt", b"two", "text/plain"))],
        data={"field": "v"},
        timeout=5,
    )  # fmt: skip
    assert response.status_code == 200
    data = response.json()
    assert data["form"] == {"field": "v"}
    first, second = data["files"]["media"]
    assert first == {
        "filename": "test.bin",
        "content_type": "application/octet-stream",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    assert second["filename"] == "b.txt" and second["size"] == 3
    assert b"secret file content" not in response.content


def test_headers(httpbin: Server) -> None:
    headers = {"Accept": "*/*", "User-Agent": "curl/7.54.0", "Via": "bar"}
    response = requests.get(f"{httpbin.url}/headers", headers=headers, timeout=5)
    assert response.status_code == 200
    assert {"Accept", "Host", "User-Agent", "Via"} <= set(response.json()["headers"])


def test_ip_user_agent_uuid_hostname(httpbin: Server) -> None:
    assert requests.get(f"{httpbin.url}/ip", timeout=5).json() == {"origin": "127.0.0.1"}
    assert requests.get(f"{httpbin.url}/ip?format=text", timeout=5).text == "127.0.0.1\n"
    agent = requests.get(f"{httpbin.url}/user-agent", headers={"User-Agent": "test"}, timeout=5)
    assert agent.json() == {"user-agent": "test"}
    first = uuid.UUID(requests.get(f"{httpbin.url}/uuid", timeout=5).json()["uuid"])
    second = uuid.UUID(requests.get(f"{httpbin.url}/uuid", timeout=5).json()["uuid"])
    assert first.version == second.version == 4 and first != second
    assert first.variant == uuid.RFC_4122
    assert requests.get(f"{httpbin.url}/hostname", timeout=5).json() == {
        "hostname": os.uname().nodename
    }


def test_anything_shares_httpbins_fields(httpbin: Server) -> None:
    data = requests.put(f"{httpbin.url}/anything/foo/bar?a=1", json=[1], timeout=5).json()
    assert data["origin"] == data["client_ip"] == "127.0.0.1"
    assert (data["method"], data["args"], data["json"]) == ("PUT", {"a": "1"}, [1])
    assert re.fullmatch(r"http://[^/]*/anything/foo/bar\?a=1", data["url"])


def test_dump_request_is_the_request_as_text(httpbin: Server) -> None:
    response = requests.post(
        f"{httpbin.url}/dump/request?x=1", data=b"hello", headers={"X-Test": "yes"}, timeout=5
    )
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    head, _, body = response.content.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /dump/request?x=1 HTTP/1.1"
    assert b"X-Test: yes" in lines and body == b"hello"


def test_upload_counts_and_discards_the_body(httpbin: Server) -> None:
    response = requests.put(f"{httpbin.url}/upload", data=b"x" * 100_000, timeout=5)
    data = response.json()
    assert data["bytes_received"] == 100_000 and data["method"] == "PUT"
    chunked = requests.post(f"{httpbin.url}/upload", data=iter([b"a" * 10, b"b" * 5]), timeout=5)
    assert chunked.json()["bytes_received"] == 15
    assert requests.get(f"{httpbin.url}/upload", timeout=5).status_code == 405


# ---------------------------------------------------------------- auth


def test_basic_auth(httpbin: Server) -> None:
    response = requests.get(
        f"{httpbin.url}/basic-auth/user/passwd", auth=("user", "passwd"), timeout=5
    )
    assert response.status_code == 200
    assert response.json() == {"authenticated": True, "authorized": True, "user": "user"}
    for auth in (None, ("user", "wrong"), ("other", "passwd")):
        denied = requests.get(f"{httpbin.url}/basic-auth/user/passwd", auth=auth, timeout=5)
        assert denied.status_code == 401
        assert denied.headers["WWW-Authenticate"] == 'Basic realm="Fake Realm"'
        assert denied.json()["status"] == 401


def test_hidden_basic_auth(httpbin: Server) -> None:
    url = f"{httpbin.url}/hidden-basic-auth/user/passwd"
    assert requests.get(url, auth=("user", "passwd"), timeout=5).json()["authenticated"] is True
    denied = requests.get(url, auth=("user", "nope"), timeout=5)
    assert denied.status_code == 404 and "WWW-Authenticate" not in denied.headers


def test_bearer(httpbin: Server) -> None:
    response = requests.get(
        f"{httpbin.url}/bearer", headers={"Authorization": "Bearer abcd1234"}, timeout=5
    )
    assert response.status_code == 200
    assert response.json() == {"authenticated": True, "token": "abcd1234"}
    for value in ("Basic 1234abcd", "", "Bearer", "Bearer a b", "bearer abc"):
        denied = requests.get(f"{httpbin.url}/bearer", headers={"Authorization": value}, timeout=5)
        assert denied.status_code == 401 and denied.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("qop", ["auth", "wrong-qop"])  # requests' client speaks no auth-int
@pytest.mark.parametrize("algorithm", ["", "/MD5", "/SHA-256", "/SHA-512"])
def test_digest_auth_with_requests(httpbin: Server, qop: str, algorithm: str) -> None:
    url = f"{httpbin.url}/digest-auth/{qop}/user/passwd{algorithm}"
    first = requests.get(url, timeout=5)
    assert first.status_code == 401 and first.headers["WWW-Authenticate"].startswith("Digest ")
    with requests.Session() as session:
        session.auth = HTTPDigestAuth("user", "passwd")
        response = session.get(url, timeout=5)
        assert response.status_code == 200, response.headers
        assert response.json()["authenticated"] is True
    wrong = requests.get(url, auth=HTTPDigestAuth("user", "wrong"), timeout=5)
    assert wrong.status_code == 401


def _digest_header(
    challenge: str, uri: str, password: str, qop: str | None, nc: int, body: bytes = b""
) -> str:
    """psf/httpbin's test client: a Digest answer to `challenge` (MD5)."""
    params = parse_dict_header(challenge.split(None, 1)[1])
    h = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731
    a2 = f"GET:{uri}:{hashlib.md5(body).hexdigest()}" if qop == "auth-int" else f"GET:{uri}"
    ha1, ha2 = h(f"user:{params['realm']}:{password}"), h(a2)
    cnonce, count = h(os.urandom(8).hex()), f"{nc:08}"
    answer = (
        h(f"{ha1}:{params['nonce']}:{count}:{cnonce}:{qop}:{ha2}")
        if qop
        else h(f"{ha1}:{params['nonce']}:{ha2}")
    )
    header = f'Digest username="user", realm="{params["realm"]}", nonce="{params["nonce"]}", uri="{uri}", response="{answer}", opaque="{params["opaque"]}"'
    return header + (f', qop={qop}, nc={count}, cnonce="{cnonce}"' if qop else "")


def test_digest_stale_after_and_reused_nonce(httpbin: Server) -> None:
    uri = "/digest-auth/auth/user/passwd/MD5/2"
    with requests.Session() as session:
        challenge = session.get(httpbin.url + uri, timeout=5).headers["WWW-Authenticate"]
        for nc in (1, 2):
            ok = session.get(
                httpbin.url + uri,
                headers={"Authorization": _digest_header(challenge, uri, "passwd", "auth", nc)},
                timeout=5,
            )
            assert ok.status_code == 200
        stale = session.get(
            httpbin.url + uri,
            headers={"Authorization": _digest_header(challenge, uri, "passwd", "auth", 3)},
            timeout=5,
        )
        assert (
            stale.status_code == 401 and "stale=true" in stale.headers["WWW-Authenticate"].lower()
        )
    with requests.Session() as session:
        challenge = session.get(httpbin.url + uri, timeout=5).headers["WWW-Authenticate"]
        wrong = session.get(
            httpbin.url + uri,
            headers={"Authorization": _digest_header(challenge, uri, "bad", None, 1)},
            timeout=5,
        )
        assert (
            wrong.status_code == 401 and "stale=false" in wrong.headers["WWW-Authenticate"].lower()
        )
        reused = session.get(
            httpbin.url + uri,
            headers={"Authorization": _digest_header(challenge, uri, "passwd", None, 1)},
            timeout=5,
        )
        assert (
            reused.status_code == 401 and "stale=true" in reused.headers["WWW-Authenticate"].lower()
        )


@pytest.mark.parametrize("body", [b"", b"request payload"])
def test_digest_auth_int_hashes_the_body(httpbin: Server, body: bytes) -> None:
    uri = "/digest-auth/auth-int/user/passwd"
    challenge = requests.get(httpbin.url + uri, timeout=5).headers["WWW-Authenticate"]
    assert 'qop="auth-int"' in challenge
    header = _digest_header(challenge, uri, "passwd", "auth-int", 1, body)
    ok = requests.get(httpbin.url + uri, data=body, headers={"Authorization": header}, timeout=5)
    assert ok.status_code == 200
    tampered = requests.get(
        httpbin.url + uri, data=body + b"!", headers={"Authorization": header}, timeout=5
    )
    assert tampered.status_code == 401


def test_digest_with_another_authorization_type_is_401(httpbin: Server) -> None:
    for value in ("Basic 1234abcd", ""):
        response = requests.get(
            f"{httpbin.url}/digest-auth/auth/myname/mysecret",
            headers={"Authorization": value},
            timeout=5,
        )
        assert response.status_code == 401


# ---------------------------------------------------------------- cookies


def test_cookies_set_read_delete(httpbin: Server) -> None:
    with requests.Session() as session:
        response = session.get(f"{httpbin.url}/cookies/set?k1=v1&k2=v2", timeout=5)
        assert response.status_code == 200 and response.history[0].status_code == 302
        assert response.history[0].headers["Location"] == "/cookies"
        assert response.json() == {"cookies": {"k1": "v1", "k2": "v2"}}
        assert (
            session.get(f"{httpbin.url}/cookies/set/k3/v3", timeout=5).json()["cookies"]["k3"]
            == "v3"
        )
        deleted = session.get(f"{httpbin.url}/cookies/delete?k1", timeout=5).json()["cookies"]
        assert deleted == {"k2": "v2", "k3": "v3"}


@pytest.mark.parametrize("name", ["a;Domain=evil.example", "a b", "é", "a,b", "a=b"])
def test_a_cookie_name_that_is_not_a_token_is_a_400(httpbin: Server, name: str) -> None:
    response = requests.get(
        f"{httpbin.url}/cookies/set", params={name: "v"}, timeout=5, allow_redirects=False
    )
    assert response.status_code == 400 and "Set-Cookie" not in response.headers


# ---------------------------------------------------------------- redirects


def test_redirects_like_psf_httpbin(httpbin: Server) -> None:
    def location(path: str) -> str:
        response = requests.get(httpbin.url + path, allow_redirects=False, timeout=5)
        assert response.status_code == 302
        return response.headers["Location"]

    assert location("/redirect/1") == "/get"
    assert location("/redirect/5") == "/relative-redirect/4"
    assert location("/relative-redirect/7") == "/relative-redirect/6"
    assert location("/relative-redirect/1") == "/get"
    assert re.fullmatch(r"http://[^/]*/absolute-redirect/4", location("/redirect/5?absolute=true"))
    assert re.fullmatch(r"http://[^/]*/absolute-redirect/4", location("/absolute-redirect/5"))
    assert re.fullmatch(r"http://[^/]*/get", location("/absolute-redirect/1"))
    followed = requests.get(f"{httpbin.url}/redirect/3", timeout=5)
    assert followed.status_code == 200 and len(followed.history) == 3


@pytest.mark.parametrize(
    "path", ["/redirect/0", "/redirect/101", "/relative-redirect/-1", "/absolute-redirect/x"]
)
def test_redirect_counts_are_bounded(httpbin: Server, path: str) -> None:
    response = requests.get(httpbin.url + path, allow_redirects=False, timeout=5)
    assert response.status_code == 400 and response.json()["status"] == 400


def test_redirect_to(httpbin: Server) -> None:
    response = requests.post(
        f"{httpbin.url}/redirect-to?url=/post&status_code=307", data=b"\x01\x02",
        headers={"Content-Type": "application/octet-stream"}, allow_redirects=False, timeout=5,
    )  # fmt: skip
    assert (response.status_code, response.headers["Location"]) == (307, "/post")
    allowed = requests.get(
        f"{httpbin.url}/redirect-to?URL=https://allowed.example/x", allow_redirects=False, timeout=5
    )
    assert (allowed.status_code, allowed.headers["Location"]) == (302, "https://allowed.example/x")


@pytest.mark.parametrize(
    "query",
    ["url=http://evil.example/", "url=//evil.example", "url=/%5Cevil.example", "url=javascript:alert(1)",
     "url=/get&status_code=200", "url=/get&status_code=x", "", "url="],
)  # fmt: skip
def test_redirect_to_refuses_open_redirects_and_bad_codes(httpbin: Server, query: str) -> None:
    response = requests.get(f"{httpbin.url}/redirect-to?{query}", allow_redirects=False, timeout=5)
    assert response.status_code == 400 and "Location" not in response.headers
    assert response.json()["status"] == 400
