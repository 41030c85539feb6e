"""The inspector as a workbench under real gunicorn: copy as curl, HAR, replay, clearing.

The curl command is run by real curl and its request compared with the original;
HAR is checked against the HAR 1.2 shape; a replay reaches an allow-listed
listener and a forbidden target sees nothing connect.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import uuid as uuids
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support import har
from tests.support.listener import Listener, redirect_answer, slow_answer
from tests.support.redisserver import RedisServer
from tests.support.server import Server

TOKEN = "workbench-token-77c1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(scope="module")
def allowed() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def forbidden() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def bench(make_module_server: MakeServer, allowed: Listener) -> Server:
    return make_module_server(
        {
            "ECHO_INSPECT_TOKEN": TOKEN,
            "ECHO_CALL_TARGETS": f"{allowed.url}/hooks/",
            "ECHO_CALL_TIMEOUT_SECONDS": "2",
            "ECHO_LOG_BODY_BYTES": "2048",
        },
        workers=2,
    )


def _stored(server: Server, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = requests.get(
            f"{server.url}/_echoscope/exchanges/{request_id}", headers=AUTH, timeout=5
        )
        if found.status_code == 200:
            entry: dict[str, Any] = found.json()
            return entry
        time.sleep(0.05)
    raise AssertionError(f"{request_id} never reached the history")


def _send(server: Server, marker: str, **kwargs: Any) -> str:
    response = requests.request(
        kwargs.pop("method", "POST"),
        f"{server.url}/webhooks/{marker}?page=2&token=query-secret&tag=a&tag=b",
        headers={
            "X-Marker": marker,
            "Authorization": "Bearer header-secret",
            "Content-Type": "application/json",
            "Quote": 'it\'s "quoted" $HOME `x`',
            "traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01",
            **kwargs.pop("headers", {}),
        },
        timeout=5,
        **kwargs,
    )
    assert response.status_code == 200
    request_id: str = response.headers["X-Request-Id"]
    _stored(server, request_id)
    return request_id


def _curl(server: Server, request_id: str) -> str:
    response = requests.get(
        f"{server.url}/_echoscope/exchanges/{request_id}?format=curl", headers=AUTH, timeout=5
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def _run(command: str) -> None:
    done = subprocess.run(["bash", "-c", command], capture_output=True, timeout=20, check=False)
    assert done.returncode == 0, done.stderr


def _record_with_marker(server: Server, marker: str, count: int) -> list[dict[str, Any]]:
    return [
        line["request"]
        for line in server.wait_for_lines(
            lambda line: line.get("request", {}).get("headers", {}).get("X-Marker") == marker,
            count,
        )
    ]


def test_copy_as_curl_is_replayed_by_real_curl(bench: Server) -> None:
    marker = uuids.uuid4().hex
    original_id = _send(bench, marker, data=json.dumps({"amount": 42, "note": "l'été"}))
    command = _curl(bench, original_id)
    assert (
        "# redacted by echoscope, sent as [REDACTED]: header Authorization, query token" in command
    )
    _run(command)
    original, copy = _record_with_marker(bench, marker, 2)
    for field in ("method", "path", "args", "data", "json", "query_string"):
        assert copy[field] == original[field], field
    sent = {
        k: v for k, v in copy["headers"].items() if k not in ("User-Agent", "Accept", "Connection")
    }
    kept = {
        k: v
        for k, v in original["headers"].items()
        if k not in ("User-Agent", "Accept", "Connection")
    }
    assert sent == kept  # Authorization went as [REDACTED] and is redacted again


def test_a_binary_body_and_head_are_replayed_by_curl(bench: Server) -> None:
    marker = uuids.uuid4().hex
    payload = bytes(range(256)) * 2
    original_id = _send(
        bench, marker, data=payload, headers={"Content-Type": "application/octet-stream"}
    )
    _run(_curl(bench, original_id))
    original, copy = _record_with_marker(bench, marker, 2)
    assert copy["data_encoding"] == "base64" and copy["data"] == original["data"]
    assert base64.b64decode(copy["data"]) == payload
    head_marker = uuids.uuid4().hex
    head_id = _send(bench, head_marker, method="HEAD")
    command = _curl(bench, head_id)
    assert "--head" in command
    _run(command)
    assert [r["method"] for r in _record_with_marker(bench, head_marker, 2)] == ["HEAD", "HEAD"]


def test_a_cut_body_is_said_in_the_curl_comments(bench: Server) -> None:
    request_id = _send(bench, uuids.uuid4().hex, data="x" * 5000)
    command = _curl(bench, request_id)
    assert "# the body was cut at ECHO_LOG_BODY_BYTES" in command


def test_har_of_one_and_of_the_filtered_list(bench: Server) -> None:
    marker = uuids.uuid4().hex
    first = _send(bench, marker, data='{"n": 1}')
    second = _send(bench, marker, data=b"\x00\xff", headers={"Content-Type": "image/png"})
    one = requests.get(
        f"{bench.url}/_echoscope/exchanges/{first}?format=har", headers=AUTH, timeout=5
    )
    assert one.status_code == 200 and "attachment" in one.headers["Content-Disposition"]
    har.validate(one.json())
    (entry,) = one.json()["log"]["entries"]
    assert entry["_uuid"] == first and entry["_traceId"] == TRACE_ID
    assert entry["request"]["method"] == "POST"
    assert entry["request"]["postData"] == {"mimeType": "application/json", "text": '{"n": 1}'}
    assert {"name": "tag", "value": "b"} in entry["request"]["queryString"]
    assert {"name": "token", "value": "[REDACTED]"} in entry["request"]["queryString"]
    assert "header Authorization" in entry["comment"] and "query token" in entry["comment"]
    assert entry["response"]["status"] == 200 and entry["response"]["statusText"] == "OK"
    assert json.loads(entry["response"]["content"]["text"])["headers"]["X-Marker"] == marker
    listed = requests.get(
        f"{bench.url}/_echoscope/exchanges?format=har&path=/webhooks/{marker}",
        headers=AUTH,
        timeout=5,
    )
    har.validate(listed.json())
    assert [e["_uuid"] for e in listed.json()["log"]["entries"]] == [second, first]
    binary = listed.json()["log"]["entries"][0]["request"]["postData"]
    assert base64.b64decode(binary["text"]) == b"\x00\xff" and "base64" in binary["comment"]


def test_replay_reaches_an_allowed_listener_and_continues_the_trace(
    bench: Server, allowed: Listener
) -> None:
    marker = uuids.uuid4().hex
    original_id = _send(bench, marker, data='{"replay": true}')
    before = len(allowed.received)
    caller_trace = "0af7651916cd43dd8448eb211c80319c"
    response = requests.post(
        f"{bench.url}/_echoscope/exchanges/{original_id}/replay",
        json={"url": f"{allowed.url}/hooks/stripe?x=1"},
        headers={**AUTH, "traceparent": f"00-{caller_trace}-b7ad6b7169203331-01"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["replayed"] == original_id and answer["dropped_headers"] == ["Authorization"]
    assert answer["call"]["status"] == 200 and answer["call"]["error"] is None
    received = allowed.wait_for(before + 1)[-1]
    assert (received.method, received.path) == ("POST", "/hooks/stripe?x=1")
    assert received.body == b'{"replay": true}'
    assert received.headers["x-marker"] == marker and "authorization" not in received.headers
    assert received.headers["traceparent"].split("-")[1] == caller_trace  # not the original's
    assert received.headers["x-echoscope-hops"] == "1"
    line = bench.line_for(response.headers["X-Request-Id"])
    assert line["calls"][0]["status"] == 200
    replayed = _stored(bench, response.headers["X-Request-Id"])  # the replay is an exchange
    assert replayed["route"] == "/_echoscope/exchanges/<uuid>/replay"


def test_a_forbidden_target_is_refused_with_nothing_connecting(
    bench: Server, forbidden: Listener
) -> None:
    original_id = _send(bench, uuids.uuid4().hex, data="{}")
    for url in (f"{forbidden.url}/hooks/x", f"{forbidden.url}/", "http://169.254.169.254/hooks/"):
        response = requests.post(
            f"{bench.url}/_echoscope/exchanges/{original_id}/replay",
            json={"url": url},
            headers=AUTH,
            timeout=5,
        )
        assert response.status_code == 403, url
        assert "ECHO_CALL_TARGETS" in response.json()["detail"]
    forbidden.assert_untouched()


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [('{"url": 1}', "application/json", 400), ("url=http://x", "application/x-www-form-urlencoded", 415),
     ('{"url": "http://x", "more": 1}', "application/json", 400), ("not json", "application/json", 400),
     ('{"url": "ftp://x/"}', "application/json", 400)],
)  # fmt: skip
def test_a_bad_replay_request_is_a_json_error(
    bench: Server, body: str, content_type: str, status: int
) -> None:
    original_id = _send(bench, uuids.uuid4().hex, data="{}")
    response = requests.post(
        f"{bench.url}/_echoscope/exchanges/{original_id}/replay",
        data=body,
        headers={**AUTH, "Content-Type": content_type},
        timeout=5,
    )
    assert response.status_code == status and response.json()["status"] == status


def test_what_was_not_kept_whole_is_not_replayed(bench: Server, allowed: Listener) -> None:
    cut_id = _send(bench, uuids.uuid4().hex, data="y" * 5000)
    before = len(allowed.received)
    response = requests.post(
        f"{bench.url}/_echoscope/exchanges/{cut_id}/replay",
        json={"url": f"{allowed.url}/hooks/x"},
        headers=AUTH,
        timeout=5,
    )
    assert response.status_code == 409 and "ECHO_LOG_BODY_BYTES" in response.json()["detail"]
    missing = requests.post(
        f"{bench.url}/_echoscope/exchanges/{'0' * 32}/replay",
        json={"url": f"{allowed.url}/hooks/x"},
        headers=AUTH,
        timeout=5,
    )
    assert missing.status_code == 404
    time.sleep(0.2)
    assert len(allowed.received) == before


def test_replay_is_off_without_call_targets(make_server: MakeServer) -> None:
    server = make_server({"ECHO_INSPECT_TOKEN": TOKEN})
    original_id = _send(server, uuids.uuid4().hex, data="{}")
    response = requests.post(
        f"{server.url}/_echoscope/exchanges/{original_id}/replay",
        json={"url": "http://127.0.0.1:9/"},
        headers=AUTH,
        timeout=5,
    )
    assert response.status_code == 404 and "ECHO_CALL_TARGETS" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/exchanges/{id}?format=curl"), ("GET", "/exchanges/{id}?format=har"),
     ("GET", "/exchanges?format=har"), ("POST", "/exchanges/{id}/replay"),
     ("DELETE", "/exchanges")],
)  # fmt: skip
def test_every_workbench_request_needs_the_token(bench: Server, method: str, path: str) -> None:
    url = bench.url + "/_echoscope" + path.format(id="0" * 32)
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = requests.request(method, url, json={"url": "x"}, headers=headers, timeout=5)
        assert response.status_code == 401 and response.json()["status"] == 401


def test_a_bad_format_is_a_400(bench: Server) -> None:
    for path in ("/exchanges?format=xml", f"/exchanges/{'0' * 32}?format=pdf"):
        response = requests.get(f"{bench.url}/_echoscope{path}", headers=AUTH, timeout=5)
        assert response.status_code == 400 and "format" in response.json()["detail"]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    running = RedisServer()
    yield running.url
    running.stop()


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_clearing_the_history(make_server: MakeServer, redis_url: str, store: str) -> None:
    env = {"ECHO_INSPECT_TOKEN": TOKEN}
    if store == "redis":
        env["ECHO_HISTORY_URL"] = redis_url
    server = make_server(env, workers=2)
    kept = _send(server, uuids.uuid4().hex, data="{}")
    cleared = requests.delete(f"{server.url}/_echoscope/exchanges", headers=AUTH, timeout=5)
    assert cleared.status_code == 200 and cleared.json() == {"cleared": True}
    gone = requests.get(f"{server.url}/_echoscope/exchanges/{kept}", headers=AUTH, timeout=5)
    assert gone.status_code == 404
    later = _send(server, uuids.uuid4().hex, data="{}")  # the history goes on
    listed = requests.get(f"{server.url}/_echoscope/exchanges", headers=AUTH, timeout=5).json()
    assert [entry["uuid"] for entry in listed["exchanges"]] == [later]


def test_replay_follows_no_redirect_and_times_out(bench: Server, allowed: Listener) -> None:
    original_id = _send(bench, uuids.uuid4().hex, data="{}")

    def replay() -> dict[str, Any]:
        response = requests.post(
            f"{bench.url}/_echoscope/exchanges/{original_id}/replay",
            json={"url": f"{allowed.url}/hooks/moved"},
            headers=AUTH,
            timeout=10,
        )
        assert response.status_code == 200
        call: dict[str, Any] = response.json()["call"]
        return call

    answer = allowed.answer
    try:
        allowed.answer = redirect_answer("http://127.0.0.1:9/elsewhere")
        moved = replay()
        assert moved["status"] == 302 and "not followed" in moved["error"]
        allowed.answer = slow_answer(5)
        late = replay()
        assert late["status"] is None and late["error"].startswith("timeout")
    finally:
        allowed.answer = answer
