"""The echo record (SPEC §3): every field, bodies of every kind, limits, client address."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from http.cookies import SimpleCookie

import pytest

from tests.support.constants import PARENT_SPAN_ID, RECORD_FIELDS, TRACE_ID, TRACEPARENT
from tests.unit.conftest import Echo, MakeEcho

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "PROPFIND", "FOO"])
def test_record_has_every_field_in_order(echo: Echo, method: str) -> None:
    response = echo.client.open("/anything/x?q=1", method=method)
    assert response.status_code == 200
    assert list(response.json) == RECORD_FIELDS


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PROPFIND", "FOO"])
def test_record_fields_for_each_method(echo: Echo, method: str) -> None:
    response = echo.client.open(
        "/some/path?q=1", method=method, headers={"X-Custom": "v", "Cookie": "c=1"}
    )
    record = response.json
    assert record["endpoint"] == "echo"
    assert record["method"] == method
    assert record["cookies"] == {"c": "1"}
    assert record["data"] == ""
    assert record["headers"]["X-Custom"] == "v"
    assert record["args"] == {"q": "1"}
    assert record["form"] == {}
    assert record["files"] == []
    assert record["path"] == "/some/path"
    assert record["url"] == "http://localhost/some/path?q=1"
    assert (record["scheme"], record["host"]) == ("http", "localhost")
    assert record["query_string"] == "q=1"
    assert record["json"] is None
    assert record["data_encoding"] == "utf-8"
    assert record["body_size"] == 0
    assert record["remote_addr"] == record["client_ip"] == "127.0.0.1"


def test_root_is_hello_world(echo: Echo) -> None:
    response = echo.client.get("/")
    assert response.status_code == 200
    assert response.json["endpoint"] == "hello_world"
    assert response.json["path"] == "/"


def test_root_sets_the_seed_cookie_to_the_uuid(echo: Echo) -> None:
    response = echo.client.get("/")
    cookie = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        cookie.load(header)
    assert cookie["echoscope_uuid"].value == response.json["uuid"]


def test_post_to_root_echoes_without_the_seed_cookie(echo: Echo) -> None:
    response = echo.client.post("/", data="x")
    assert response.status_code == 200
    assert response.json["endpoint"] == "echo"
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("path", ["/anything", "/anything/", "/anything/a/b/c"])
def test_anything_echoes(echo: Echo, path: str) -> None:
    response = echo.client.post(path, data="hi")
    assert response.status_code == 200
    assert (response.json["path"], response.json["data"]) == (path, "hi")


def test_uuid_is_32_lowercase_hex_and_the_request_id(echo: Echo) -> None:
    response = echo.client.get("/anything")
    assert HEX32.fullmatch(response.json["uuid"])
    assert response.headers["X-Request-Id"] == response.json["uuid"]


def test_uuid_differs_between_requests(echo: Echo) -> None:
    first = echo.client.get("/anything").json["uuid"]
    assert echo.client.get("/anything").json["uuid"] != first


def test_args_single_value_and_list_when_repeated(echo: Echo) -> None:
    record = echo.client.get("/anything?a=1&a=2&b=3&c=").json
    assert record["args"] == {"a": ["1", "2"], "b": "3", "c": ""}


def test_form_single_value_and_list_when_repeated(echo: Echo) -> None:
    record = echo.client.post("/anything", data={"f": ["x", "y"], "g": "z"}).json
    assert record["form"] == {"f": ["x", "y"], "g": "z"}
    assert record["data"] == "f=x&f=y&g=z"


def test_repeated_headers_are_joined(echo: Echo) -> None:
    record = echo.client.get("/anything", headers=[("X-Multi", "a"), ("X-Multi", "b")]).json
    assert record["headers"]["X-Multi"] == "a, b"


def test_utf8_body_is_text(echo: Echo) -> None:
    record = echo.client.put("/anything", data="héllo ✓".encode(), content_type="text/plain").json
    assert (record["data"], record["data_encoding"]) == ("héllo ✓", "utf-8")
    assert record["body_size"] == len("héllo ✓".encode())


def test_binary_body_is_base64(echo: Echo) -> None:
    body = bytes(range(256))
    record = echo.client.post("/anything", data=body, content_type="application/octet-stream").json
    assert record["data_encoding"] == "base64"
    assert base64.b64decode(record["data"]) == body
    assert record["body_size"] == 256


def test_json_body_is_parsed(echo: Echo) -> None:
    record = echo.client.post("/anything", json={"a": [1, 2.5, None, "x"], "b": {"c": True}}).json
    assert record["json"] == {"a": [1, 2.5, None, "x"], "b": {"c": True}}
    assert "json_error" not in record


def test_json_content_type_with_suffix_is_parsed(echo: Echo) -> None:
    record = echo.client.post(
        "/anything", data='{"a": 1}', content_type="application/vnd.api+json"
    ).json
    assert record["json"] == {"a": 1}


def test_largest_unsigned_64_bit_integer_is_exact(echo: Echo) -> None:
    record = echo.client.post(
        "/anything", data='{"n": 18446744073709551615}', content_type="application/json"
    ).json
    assert record["json"] == {"n": 18446744073709551615}


@pytest.mark.parametrize(
    "body",
    [
        b"{bad",
        b'{"a": 1,}',
        b"[" * 300 + b"]" * 300,
        b"[" * 1000 + b"]" * 1000,
        b"[" * 5000 + b"]" * 5000,
        b'{"n": 18446744073709551616}',
        b'{"n": -9223372036854775809}',
        b"\xff\xfe",
    ],
    ids=[
        "malformed",
        "trailing-comma",
        "300-deep",
        "1000-deep",
        "5000-deep",
        "past-u64",
        "past-i64",
        "not-utf8",
    ],
)
def test_unusable_json_gives_null_and_json_error(echo: Echo, body: bytes) -> None:
    response = echo.client.post("/anything", data=body, content_type="application/json")
    assert response.status_code == 200
    assert response.json["json"] is None
    assert isinstance(response.json["json_error"], str) and response.json["json_error"]


def test_json_nested_200_deep_is_parsed(echo: Echo) -> None:
    body = "[" * 200 + "]" * 200
    response = echo.client.post("/anything", data=body, content_type="application/json")
    assert response.status_code == 200
    assert response.json["json"] is not None


def test_json_error_is_the_last_field(echo: Echo) -> None:
    record = echo.client.post("/anything", data="{bad", content_type="application/json").json
    assert list(record) == [*RECORD_FIELDS, "json_error"]


def test_content_type_and_length_are_among_the_headers(echo: Echo) -> None:
    record = echo.client.post("/anything", data="hello", content_type="text/plain").json
    assert record["headers"]["Content-Type"] == "text/plain"
    assert record["headers"]["Content-Length"] == "5"


def test_header_names_keep_their_usual_spelling(echo: Echo) -> None:
    record = echo.client.get("/anything", headers={"x-custom-thing": "1"}).json
    assert record["headers"]["X-Custom-Thing"] == "1"


def test_json_body_without_json_content_type_is_not_parsed(echo: Echo) -> None:
    record = echo.client.post("/anything", data='{"a": 1}', content_type="text/plain").json
    assert record["json"] is None
    assert record["data"] == '{"a": 1}'


def test_multipart_files_are_described_never_returned(echo: Echo) -> None:
    content = b"top secret file contents " * 10
    response = echo.client.post(
        "/anything",
        data={
            "upload": (io.BytesIO(content), "notes.txt", "text/plain"),
            "field": "value",
        },
        content_type="multipart/form-data",
    )
    assert response.json["files"] == [
        {
            "field": "upload",
            "filename": "notes.txt",
            "content_type": "text/plain",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    ]
    assert response.json["form"] == {"field": "value"}
    assert b"top secret file contents" not in response.data


def test_multipart_repeated_file_field_lists_each_file(echo: Echo) -> None:
    response = echo.client.post(
        "/anything",
        data={"f": [(io.BytesIO(b"one"), "1.bin"), (io.BytesIO(b"two!"), "2.bin")]},
        content_type="multipart/form-data",
    )
    files = response.json["files"]
    assert [(f["field"], f["filename"], f["size"]) for f in files] == [
        ("f", "1.bin", 3),
        ("f", "2.bin", 4),
    ]
    assert files[1]["sha256"] == hashlib.sha256(b"two!").hexdigest()


def test_body_over_the_limit_is_a_json_413(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_MAX_BODY_BYTES": "10"})
    response = echo.client.post("/anything", data=b"x" * 11)
    assert response.status_code == 413
    assert response.json["status"] == 413
    assert set(response.json) == {"error", "status", "detail"}


def test_body_at_the_limit_is_echoed(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_MAX_BODY_BYTES": "10"})
    response = echo.client.post("/anything", data=b"x" * 10)
    assert response.status_code == 200
    assert response.json["body_size"] == 10


def test_multipart_over_the_limit_is_a_json_413(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_MAX_BODY_BYTES": "100"})
    response = echo.client.post(
        "/anything",
        data={"f": (io.BytesIO(b"x" * 500), "big.bin")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.json["status"] == 413


def test_client_ip_ignores_forwarded_for_without_trusted_hops(echo: Echo) -> None:
    record = echo.client.get(
        "/anything",
        headers={"X-Forwarded-For": "203.0.113.7"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    ).json
    assert record["client_ip"] == record["remote_addr"] == "10.0.0.2"


def test_client_ip_from_forwarded_for_with_one_trusted_hop(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_TRUSTED_PROXY_HOPS": "1"})
    record = echo.client.get(
        "/anything",
        headers={"X-Forwarded-For": "203.0.113.7"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    ).json
    assert record["client_ip"] == "203.0.113.7"
    assert record["remote_addr"] == "10.0.0.2"


def test_one_trusted_hop_trusts_only_the_last_forwarded_address(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_TRUSTED_PROXY_HOPS": "1"})
    record = echo.client.get(
        "/anything",
        headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.7"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    ).json
    assert record["client_ip"] == "203.0.113.7"


def test_trusted_hop_also_gives_the_forwarded_scheme(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_TRUSTED_PROXY_HOPS": "1"})
    record = echo.client.get("/anything", headers={"X-Forwarded-Proto": "https"}).json
    assert record["scheme"] == "https"
    assert record["url"].startswith("https://")


def test_trace_continues_the_traceparent(echo: Echo) -> None:
    trace = echo.client.get("/anything", headers={"traceparent": TRACEPARENT}).json["trace"]
    assert trace["trace_id"] == TRACE_ID
    assert re.fullmatch(r"[0-9a-f]{16}", trace["span_id"])
    assert trace["span_id"] != PARENT_SPAN_ID
    assert trace["sampled"] is True


def test_trace_is_new_without_a_traceparent(echo: Echo) -> None:
    trace = echo.client.get("/anything").json["trace"]
    assert HEX32.fullmatch(trace["trace_id"])
    assert trace["trace_id"] != TRACE_ID


def test_server_is_the_cloud_run_service_and_revision(make_echo: MakeEcho) -> None:
    echo = make_echo({"K_SERVICE": "echo-svc", "K_REVISION": "echo-svc-00042"})
    server = echo.client.get("/anything").json["server"]
    assert (server["service"], server["revision"]) == ("echo-svc", "echo-svc-00042")
    assert HEX32.fullmatch(server["instance"])


def test_server_defaults_to_the_otel_service_name(make_echo: MakeEcho) -> None:
    echo = make_echo({"OTEL_SERVICE_NAME": "probe"})
    server = echo.client.get("/anything").json["server"]
    assert (server["service"], server["revision"]) == ("probe", None)


def test_server_instance_is_stable_within_an_app(echo: Echo) -> None:
    first = echo.client.get("/a").json["server"]["instance"]
    assert echo.client.get("/b").json["server"]["instance"] == first


def test_response_is_json_that_round_trips(echo: Echo) -> None:
    response = echo.client.get("/anything?x=%E2%9C%93")
    assert response.mimetype == "application/json"
    assert json.loads(response.data)["args"] == {"x": "✓"}


def test_head_has_no_body(echo: Echo) -> None:
    response = echo.client.head("/anything")
    assert response.status_code == 200
    assert response.data == b""
