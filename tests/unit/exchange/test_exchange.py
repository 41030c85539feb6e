"""The exchange: X-Request-Id, CORS, preflight and traceresponse on every response."""

from __future__ import annotations

import re

import pytest

from tests.support.constants import TRACE_ID, TRACEPARENT
from tests.unit.conftest import Echo, MakeEcho

TRACERESPONSE = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
HEX32 = re.compile(r"[0-9a-f]{32}")


def _expose_headers(response_headers: object) -> set[str]:
    values = response_headers.getlist("Access-Control-Expose-Headers")  # type: ignore[attr-defined]
    return {part.strip().lower() for value in values for part in value.split(",")}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/anything", 200),
        ("GET", "/status/503", 503),
        ("GET", "/status/abc", 400),
        ("GET", "/health", 200),
        ("POST", "/health", 405),
        ("GET", "/metrics", 200),
        ("GET", "/status/204", 204),
        ("GET", "/anything?x-set-response-status-code=nope", 400),
    ],
)
def test_every_response_carries_a_request_id(
    echo: Echo, method: str, path: str, status: int
) -> None:
    response = echo.client.open(path, method=method)
    assert response.status_code == status
    assert HEX32.fullmatch(response.headers["X-Request-Id"])


def test_request_id_on_a_413(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_MAX_BODY_BYTES": "4"})
    response = echo.client.post("/anything", data="too long")
    assert response.status_code == 413
    assert HEX32.fullmatch(response.headers["X-Request-Id"])


def test_request_id_on_an_unhandled_exception(echo: Echo) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    echo.app.add_url_rule("/boom", "boom", boom)
    response = echo.client.get("/boom")
    assert response.status_code == 500
    assert HEX32.fullmatch(response.headers["X-Request-Id"])


def test_default_cors_allows_any_origin_and_exposes_the_ids(echo: Echo) -> None:
    response = echo.client.get("/anything", headers={"Origin": "https://a.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert {"x-request-id", "traceresponse"} <= _expose_headers(response.headers)


def test_cors_origin_from_the_setting(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_CORS_ORIGIN": "https://app.example"})
    response = echo.client.get("/anything", headers={"Origin": "https://app.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Origin" in response.headers.get("Vary", "")


def test_cors_headers_on_errors_too(echo: Echo) -> None:
    response = echo.client.get("/status/abc")
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_empty_cors_origin_sends_no_cors_headers(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_CORS_ORIGIN": ""})
    response = echo.client.get("/anything", headers={"Origin": "https://a.example"})
    assert [
        name for name, _ in response.headers.items() if name.lower().startswith("access-control-")
    ] == []


def test_preflight_answers_204_with_methods_and_headers(echo: Echo) -> None:
    response = echo.client.options(
        "/anything",
        headers={
            "Origin": "https://a.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "X-Custom, Content-Type",
        },
    )
    assert response.status_code == 204
    assert response.data == b""
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]
    assert "X-Custom" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert HEX32.fullmatch(response.headers["X-Request-Id"])


def test_plain_options_is_echoed(echo: Echo) -> None:
    response = echo.client.options("/anything")
    assert response.status_code == 200
    assert response.json["method"] == "OPTIONS"


def test_no_preflight_without_cors(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_CORS_ORIGIN": ""})
    response = echo.client.options(
        "/anything", headers={"Origin": "https://a", "Access-Control-Request-Method": "PUT"}
    )
    assert "Access-Control-Allow-Methods" not in response.headers


def test_traceresponse_matches_the_record(echo: Echo) -> None:
    response = echo.client.get("/anything")
    match = TRACERESPONSE.fullmatch(response.headers["traceresponse"])
    assert match is not None
    trace = response.json["trace"]
    assert (match[1], match[2]) == (trace["trace_id"], trace["span_id"])
    assert bool(int(match[3], 16) & 1) is trace["sampled"]


def test_traceresponse_continues_the_callers_trace(echo: Echo) -> None:
    response = echo.client.get("/anything", headers={"traceparent": TRACEPARENT})
    match = TRACERESPONSE.fullmatch(response.headers["traceresponse"])
    assert match is not None and match[1] == TRACE_ID


@pytest.mark.parametrize("path", ["/status/500", "/status/abc", "/status/204"])
def test_traceresponse_on_errors_and_empty_bodies(echo: Echo, path: str) -> None:
    assert TRACERESPONSE.fullmatch(echo.client.get(path).headers["traceresponse"])


def test_log_latency_equals_the_histogram_observation(echo: Echo) -> None:
    echo.client.get("/status/201")
    line = echo.exchange_line()
    labels = {
        "http_request_method": "GET",
        "http_route": "/status/<code>",
        "http_response_status_code": "201",
        "url_scheme": "http",
        "error_type": "",
        "network_protocol_version": "1.1",
    }
    observed = echo.registry.get_sample_value("http_server_request_duration_seconds_sum", labels)
    assert observed is not None
    assert line["httpRequest"]["latency"] == f"{observed:.6f}s"  # one clock, one measurement
    assert line["message"].endswith(f" {observed * 1000:.1f}ms")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/anything"),
        ("GET", "/status/404"),
        ("GET", "/status/204"),
        ("GET", "/status/abc"),
        ("GET", "/health"),
        ("GET", "/metrics"),
        ("POST", "/health"),
        ("GET", "/openapi.json"),
    ],
)
def test_nosniff_on_every_response(echo: Echo, method: str, path: str) -> None:
    response = echo.client.open(path, method=method)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
