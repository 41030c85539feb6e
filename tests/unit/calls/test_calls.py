"""/call in process (service/calls/routes.py, fanout.py, downstream.py): checks, calls, telemetry.

Downstreams are listeners on 127.0.0.1 that count the connections they accept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from tests.support.constants import TRACE_ID, TRACEPARENT
from tests.support.listener import (
    Listener,
    endless_answer,
    json_answer,
    redirect_answer,
    slow_answer,
)
from tests.unit.conftest import Echo, MakeEcho


@pytest.fixture
def downstream() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture
def caller(make_echo: MakeEcho, downstream: Listener) -> Echo:
    return make_echo(
        {"ECHO_CALL_TARGETS": f"{downstream.url}/ok", "ECHO_CALL_TIMEOUT_SECONDS": "1"}
    )


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.data[:500]
    assert response.json["status"] == status
    detail: str = response.json["detail"]
    return detail


# --- refused before any call ---------------------------------------------------------------


def test_call_is_a_json_404_without_targets(echo: Echo) -> None:
    assert "ECHO_CALL_TARGETS" in _error(echo.client.get("/call?url=http://127.0.0.1/"), 404)


def test_call_answers_get_and_post_only(caller: Echo) -> None:
    response = caller.client.put("/call")
    _error(response, 405)
    assert response.headers["Allow"] == "GET, POST"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"url": "x"}, "JSON array"),
        ([], "at least one URL"),
        ([{"url": 1}], 'entry 0: expected an object with a "url" string'),
        (["http://x/"], 'entry 0: expected an object with a "url" string'),
        ([{"url": "DOWN/ok", "argument": []}], "entry 0: unknown key 'argument'"),
        ([{"url": "ftp://h/"}], "must be an absolute http:// or https:// URL"),
        ([{"url": "http://u:p@127.0.0.1/ok"}], "must not carry credentials"),
        ([{"url": "DOWN/ok/%2e%2e/secret"}], "must not have . or .. segments"),
        ([{"url": "DOWN/ok%2F..%2Fsecret"}], "must not hide a / or \\ in percent-encoding"),
        ([{"url": "DOWN/ok"}] * 9, "9 calls asked for; at most 8"),
    ],
)
def test_malformed_entries_are_400_before_any_call(
    caller: Echo, downstream: Listener, body: Any, detail: str
) -> None:
    body = _with_url(body, downstream.url)
    assert detail in _error(caller.client.post("/call", json=body), 400)
    downstream.assert_untouched()


def _with_url(body: Any, url: str) -> Any:
    if isinstance(body, list):
        return [_with_url(item, url) for item in body]
    if isinstance(body, dict):
        return {key: _with_url(value, url) for key, value in body.items()}
    return body.replace("DOWN", url) if isinstance(body, str) else body


def test_a_body_that_is_not_json_is_400(caller: Echo) -> None:
    response = caller.client.post("/call", data=b"[{", content_type="application/json")
    assert "not JSON" in _error(response, 400)


@pytest.mark.parametrize(
    "outside",
    ["{url}/other", "{url}/okay", "http://localhost:{port}/ok", "http://127.0.0.1:1/ok"],
)
def test_urls_outside_the_targets_are_403_before_any_call(
    caller: Echo, downstream: Listener, outside: str
) -> None:
    good = {"url": f"{downstream.url}/ok"}
    bad = {"url": outside.format(url=downstream.url, port=downstream.port)}
    response = caller.client.post("/call", json=[good, bad])
    assert "entry 1" in _error(response, 403)
    downstream.assert_untouched()


@pytest.mark.parametrize(("hops", "status"), [("4", 200), ("5", 508), ("x", 400), ("-1", 400)])
def test_the_hop_count_is_checked_before_any_call(
    caller: Echo, downstream: Listener, hops: str, status: int
) -> None:
    headers = {"X-Echoscope-Hops": hops}
    response = caller.client.get(f"/call?url={downstream.url}/ok", headers=headers)
    assert response.status_code == status
    if status == 200:
        assert downstream.received[0].headers["x-echoscope-hops"] == "5"
    else:
        downstream.assert_untouched()


# --- calls made ----------------------------------------------------------------------------


def test_post_sends_arguments_as_json_and_get_sends_nothing(
    caller: Echo, downstream: Listener
) -> None:
    base = f"{downstream.url}/ok"
    body = [{"url": f"{base}/a", "arguments": [{"url": "next", "arguments": []}]}, {"url": base}]
    answer = caller.client.post("/call", json=body).json
    assert [call["method"] for call in answer["calls"]] == ["POST", "GET"]
    by_path = {received.path: received for received in downstream.received}
    assert by_path["/ok/a"].method == "POST"
    assert json.loads(by_path["/ok/a"].body) == [{"url": "next", "arguments": []}]
    assert by_path["/ok/a"].headers["content-type"] == "application/json"
    assert by_path["/ok"].method == "GET" and by_path["/ok"].body == b""


def test_the_answer_is_the_record_plus_calls(caller: Echo, downstream: Listener) -> None:
    response = caller.client.get(f"/call?url={downstream.url}/ok&url={downstream.url}/ok/2")
    answer = response.json
    assert answer["uuid"] == response.headers["X-Request-Id"]
    assert answer["args"] == {"url": [f"{downstream.url}/ok", f"{downstream.url}/ok/2"]}
    first = answer["calls"][0]
    assert set(first) == {
        "url", "method", "status", "duration_ms", "sent", "response", "truncated", "error",
        "verdict",
    }  # fmt: skip
    assert (first["status"], first["error"], first["truncated"]) == (200, None, False)
    assert first["response"]["path"] == "/ok"  # the listener's JSON, parsed
    assert first["verdict"] == "unknown"  # not an echoscope: no trace_context to compare


def test_the_current_context_is_injected_by_the_propagators(
    caller: Echo, downstream: Listener
) -> None:
    answer = caller.client.get(
        f"/call?url={downstream.url}/ok", headers={"traceparent": TRACEPARENT}
    ).json
    received = downstream.received[0].headers
    sent = answer["calls"][0]["sent"]
    assert sent["traceparent"] == received["traceparent"]
    assert sent["x-cloud-trace-context"] == received["x-cloud-trace-context"]
    assert received["traceparent"].split("-")[1] == TRACE_ID
    assert "authorization" not in sent and "x-serverless-authorization" not in received


def test_each_call_is_a_client_span_child_of_the_server_span(
    caller: Echo, downstream: Listener
) -> None:
    caller.client.get(f"/call?url={downstream.url}/ok&url={downstream.url}/ok/2")
    spans = caller.spans()
    (server,) = [span for span in spans if span.kind == SpanKind.SERVER]
    clients = [span for span in spans if span.kind == SpanKind.CLIENT]
    assert len(clients) == 2
    for client in clients:
        assert client.parent is not None
        assert client.parent.span_id == server.context.span_id
        assert client.context.trace_id == server.context.trace_id
    sent_parents = {
        received.headers["traceparent"].split("-")[2] for received in downstream.received
    }
    assert sent_parents == {format(client.context.span_id, "016x") for client in clients}


def test_the_log_line_lists_the_calls_without_answers_or_secrets(
    make_echo: MakeEcho, downstream: Listener
) -> None:
    echo = make_echo({"ECHO_CALL_TARGETS": downstream.url})
    echo.client.get("/call", query_string={"url": f"{downstream.url}/x?token=s3cret&a=1"})
    (call,) = echo.exchange_line()["calls"]
    assert call["url"] == f"{downstream.url}/x?token=[REDACTED]&a=1"
    assert (call["method"], call["status"], call["verdict"], call["error"]) == (
        "GET",
        200,
        "unknown",
        None,
    )
    assert call["duration_ms"] > 0 and "response" not in call


def test_client_duration_is_observed_with_bounded_labels(
    caller: Echo, downstream: Listener
) -> None:
    downstream.answer = json_answer(503, {"error": "Service Unavailable", "detail": "down"})
    answer = caller.client.get(f"/call?url={downstream.url}/ok").json
    assert answer["calls"][0]["error"] == "HTTP 503: Service Unavailable: down"
    labels = {
        "http_request_method": "GET",
        "server_address": "127.0.0.1",
        "server_port": str(downstream.port),
        "http_response_status_code": "503",
        "error_type": "503",
    }
    count = caller.registry.get_sample_value("http_client_request_duration_seconds_count", labels)
    assert count == 1


# --- what a call will not do ---------------------------------------------------------------


def test_redirects_are_reported_not_followed(make_echo: MakeEcho) -> None:
    elsewhere = Listener()
    redirecting = Listener(redirect_answer(f"{elsewhere.url}/secret"))
    try:
        echo = make_echo({"ECHO_CALL_TARGETS": f"{redirecting.url},{elsewhere.url}"})
        (call,) = echo.client.get(f"/call?url={redirecting.url}/").json["calls"]
        assert call["status"] == 302
        assert call["error"] == f"redirect to {elsewhere.url}/secret not followed"
        elsewhere.assert_untouched()
    finally:
        elsewhere.close()
        redirecting.close()


def test_a_slow_downstream_times_out(caller: Echo, downstream: Listener) -> None:
    downstream.answer = slow_answer(5)
    (call,) = caller.client.get(f"/call?url={downstream.url}/ok").json["calls"]
    assert call["error"] == "timeout: no answer within 1 s"
    assert call["status"] is None and call["response"] is None
    assert 900 < call["duration_ms"] < 2500


def test_an_endless_answer_is_read_up_to_the_cap_only(caller: Echo, downstream: Listener) -> None:
    downstream.answer = endless_answer()
    (call,) = caller.client.get(f"/call?url={downstream.url}/ok").json["calls"]
    assert call["truncated"] is True and call["error"] is None
    assert len(call["response"]) == 65536 and set(call["response"]) == {"x"}
    assert downstream.closed_by_peer.wait(5)  # echoscope hung up instead of reading on


def test_a_refused_connection_is_a_clear_error(make_echo: MakeEcho, downstream: Listener) -> None:
    port = downstream.port
    downstream.close()  # nobody listens there any more
    echo = make_echo({"ECHO_CALL_TARGETS": f"http://127.0.0.1:{port}"})
    (call,) = echo.client.get(f"/call?url=http://127.0.0.1:{port}/").json["calls"]
    assert call["error"].startswith("could not connect")
    assert "refused" in call["error"].lower()
