"""Errors: one JSON shape {"error", "status", "detail"}, never HTML or a traceback."""

from __future__ import annotations

import pytest
import structlog
from werkzeug.exceptions import NotFound

from service.exchange import errors
from tests.unit.conftest import Echo, MakeEcho

SHAPE = {"error", "status", "detail"}


@pytest.fixture
def failing(echo: Echo) -> Echo:
    """The default app with a /boom route that raises."""

    def boom() -> None:
        secret_local = "do-not-log-me"  # noqa: F841
        raise RuntimeError("kaboom")

    echo.app.add_url_rule("/boom", "boom", boom)
    return echo


def test_405_on_post_health_is_json_with_allow(echo: Echo) -> None:
    response = echo.client.post("/health")
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert response.json == {
        "error": "Method Not Allowed",
        "status": 405,
        "detail": response.json["detail"],
    }
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {"GET", "HEAD"}


@pytest.mark.parametrize("path", ["/metrics", "/openapi.json"])
def test_405_on_other_strict_routes(echo: Echo, path: str) -> None:
    response = echo.client.delete(path)
    assert response.status_code == 405
    assert set(response.json) == SHAPE


def test_413_is_json(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_MAX_BODY_BYTES": "8"})
    response = echo.client.post("/anything", data="123456789")
    assert response.status_code == 413
    assert response.mimetype == "application/json"
    assert response.json["status"] == 413
    assert set(response.json) == SHAPE


def test_400_is_json(echo: Echo) -> None:
    response = echo.client.get("/status/abc")
    assert response.mimetype == "application/json"
    assert response.json["error"] == "Bad Request"
    assert response.json["status"] == 400
    assert "abc" in response.json["detail"]


def test_http_error_keeps_status_and_headers() -> None:
    response = errors.http_error(NotFound("no such thing"))
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json() == {"error": "Not Found", "status": 404, "detail": "no such thing"}


def test_unhandled_exception_is_a_json_500(failing: Echo) -> None:
    response = failing.client.get("/boom")
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    assert set(response.json) == SHAPE
    assert response.json["status"] == 500


def test_unhandled_exception_shows_no_traceback(failing: Echo) -> None:
    body = failing.client.get("/boom").data
    assert b"Traceback" not in body
    assert b"kaboom" not in body
    assert b"RuntimeError" not in body
    assert b"<html" not in body.lower()


def test_unhandled_exception_logs_one_structured_error_line(failing: Echo) -> None:
    failing.client.get("/boom")
    errors_lines = [line for line in failing.lines() if "httpRequest" not in line]
    assert len(errors_lines) == 1
    (line,) = errors_lines
    assert line["severity"] == "ERROR"
    # Error Reporting reads the traceback as text, in Python's own format.
    stack = line["stack_trace"]
    assert stack.startswith("Traceback (most recent call last):\n")
    assert ", in boom\n" in stack
    assert stack.rstrip().endswith("RuntimeError: kaboom")
    assert line["error_type"] == "RuntimeError"


def test_unhandled_exception_event_names_the_error_type(failing: Echo) -> None:
    with structlog.testing.capture_logs() as captured:
        failing.client.get("/boom")
    (event,) = [entry for entry in captured if entry["event"] == "unhandled exception"]
    assert event["log_level"] == "error"
    assert event["error_type"] == "RuntimeError"
    assert event["exc_info"] is True


def test_unhandled_exception_error_line_shares_the_exchange_ids(failing: Echo) -> None:
    response = failing.client.get("/boom")
    error_line, exchange_line = failing.lines()
    assert error_line["uuid"] == exchange_line["uuid"] == response.headers["X-Request-Id"]
    span_key = "logging.googleapis.com/spanId"
    assert error_line[span_key] == exchange_line[span_key]


def test_unhandled_exception_exchange_line_has_status_500(failing: Echo) -> None:
    failing.client.get("/boom")
    line = failing.exchange_line()
    assert line["httpRequest"]["status"] == 500
    assert line["severity"] == "ERROR"
    assert line["response"]["status"] == 500


def test_unhandled_exception_log_keeps_redacted_query_values_out(failing: Echo) -> None:
    failing.client.get("/boom?token=SECRET-QUERY-VALUE")
    assert b"SECRET-QUERY-VALUE" not in failing.stream.getvalue()


def test_unhandled_exception_log_keeps_frame_locals_out(failing: Echo) -> None:
    failing.client.get("/boom")
    assert b"do-not-log-me" not in failing.stream.getvalue()
