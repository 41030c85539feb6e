"""Response controls: /status/<code>, /delay/<seconds> and the x-set-response-* controls."""

from __future__ import annotations

import pytest

from service.echo import control
from tests.support.constants import RECORD_FIELDS
from tests.unit.conftest import Echo, MakeEcho

TINY_CAP = {"ECHO_MAX_DELAY_SECONDS": "0.05"}


@pytest.fixture
def capped(make_echo: MakeEcho) -> Echo:
    """An app whose delays are capped at 50 ms."""
    return make_echo(TINY_CAP)


@pytest.mark.parametrize("code", [200, 201, 301, 302, 400, 404, 418, 429, 500, 503, 599])
def test_status_answers_with_that_status_and_the_record(echo: Echo, code: int) -> None:
    response = echo.client.get(f"/status/{code}")
    assert response.status_code == code
    assert response.mimetype == "application/json"
    assert response.json["endpoint"] == "status"
    assert list(response.json) == RECORD_FIELDS


@pytest.mark.parametrize("code", [204, 304])
def test_status_without_a_body(echo: Echo, code: int) -> None:
    response = echo.client.get(f"/status/{code}")
    assert response.status_code == code
    assert response.data == b""
    assert "Content-Type" not in response.headers


def test_204_sends_no_content_length(echo: Echo) -> None:
    # RFC 9110 §8.6: a server MUST NOT send Content-Length in a 204 response.
    assert "Content-Length" not in echo.client.get("/status/204").headers


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "FOO"])
def test_status_answers_any_method(echo: Echo, method: str) -> None:
    assert echo.client.open("/status/202", method=method).status_code == 202


@pytest.mark.parametrize(
    "code", ["abc", "99", "199", "600", "1000", "-1", "2e2", "\uff12\uff10\uff10", " 200"]
)
def test_status_out_of_range_is_a_json_400(echo: Echo, code: str) -> None:
    response = echo.client.get(f"/status/{code}")
    assert response.status_code == 400
    assert response.json["status"] == 400
    assert set(response.json) == {"error", "status", "detail"}


@pytest.mark.parametrize("seconds", ["0", "0.01", "0.05", "10ms", "50ms", "0s", "1500us"])
def test_delay_within_the_cap_returns_the_record(capped: Echo, seconds: str) -> None:
    response = capped.client.get(f"/delay/{seconds}")
    assert response.status_code == 200
    assert response.json["endpoint"] == "delay"


@pytest.mark.parametrize("seconds", ["0.06", "5", "10000", "1s", "51ms", "1m"])
def test_delay_past_the_cap_is_a_json_400(capped: Echo, seconds: str) -> None:
    """go-httpbin's rule: a delay longer than ECHO_MAX_DELAY_SECONDS is refused, not shortened."""
    response = capped.client.get(f"/delay/{seconds}")
    assert response.status_code == 400
    assert "maximum" in response.json["detail"]


@pytest.mark.parametrize("seconds", ["-1", "nan", "abc", "inf", "1e400", "-0.5", "1x", "ms", "-1s"])
def test_delay_that_is_not_a_non_negative_number_is_a_json_400(capped: Echo, seconds: str) -> None:
    response = capped.client.get(f"/delay/{seconds}")
    assert response.status_code == 400
    assert set(response.json) == {"error", "status", "detail"}


def test_status_control_as_header(echo: Echo) -> None:
    response = echo.client.get("/anything", headers={control.STATUS: "418"})
    assert response.status_code == 418
    assert response.json["endpoint"] == "echo"


def test_status_control_as_query_parameter(echo: Echo) -> None:
    assert echo.client.get(f"/anything?{control.STATUS}=503").status_code == 503


def test_status_control_on_the_root(echo: Echo) -> None:
    assert echo.client.get(f"/?{control.STATUS}=202").status_code == 202


def test_query_parameter_wins_over_header(echo: Echo) -> None:
    response = echo.client.get(f"/anything?{control.STATUS}=201", headers={control.STATUS: "202"})
    assert response.status_code == 201


def test_status_control_204_drops_the_body(echo: Echo) -> None:
    response = echo.client.get(f"/anything?{control.STATUS}=204")
    assert (response.status_code, response.data) == (204, b"")


def test_content_type_control_as_header(echo: Echo) -> None:
    response = echo.client.get(
        "/anything", headers={control.CONTENT_TYPE: "text/plain; charset=utf-8"}
    )
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_content_type_control_as_query_parameter(echo: Echo) -> None:
    response = echo.client.get(f"/anything?{control.CONTENT_TYPE}=text/csv")
    assert response.headers["Content-Type"] == "text/csv"


@pytest.mark.parametrize(
    "kind",
    [
        "text/html",
        "TEXT/HTML; charset=utf-8",
        "image/svg+xml",
        "application/xhtml+xml",
        "application/xml",
        "text/xml",
        "text/javascript",
        "application/javascript",
        "application/rss+xml",
        "multipart/x-mixed-replace; boundary=x",
    ],
)
def test_content_type_control_refuses_active_content(echo: Echo, kind: str) -> None:
    response = echo.client.get(
        "/anything", query_string={control.CONTENT_TYPE: kind, "q": "<script>alert(1)</script>"}
    )
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert control.CONTENT_TYPE in response.json["detail"]
    assert b"<script>" not in response.get_data()


@pytest.mark.parametrize(
    "kind",
    ["aaaa/bbbb", "jellyfish/cabbage", "application/x-unknown-thing", "text/css", 'a/b; q="x y"'],
)
def test_content_type_control_serves_any_other_well_formed_type(echo: Echo, kind: str) -> None:
    # nosniff: a browser downloads a type it does not know, never renders it.
    response = echo.client.get("/anything", headers={control.CONTENT_TYPE: kind})
    assert (response.status_code, response.headers["Content-Type"]) == (200, kind)
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("kind", ["bad", "a/", "/b", "a/b;", "a/b; c", "a b/c", 'a/b; c="d'])
def test_content_type_control_refuses_a_malformed_type(echo: Echo, kind: str) -> None:
    response = echo.client.get("/anything", headers={control.CONTENT_TYPE: kind})
    assert response.status_code == 400 and control.CONTENT_TYPE in response.json["detail"]


def test_unsafe_content_types_setting_allows_them(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_UNSAFE_CONTENT_TYPES": "true"})
    response = echo.client.get(f"/anything?{control.CONTENT_TYPE}=text/html")
    assert (response.status_code, response.mimetype) == (200, "text/html")


def test_delay_control_as_header_and_query(capped: Echo) -> None:
    assert capped.client.get("/anything", headers={control.DELAY_MS: "10"}).status_code == 200
    assert capped.client.get(f"/anything?{control.DELAY_MS}=999999").status_code == 200


def test_controls_combine(capped: Echo) -> None:
    response = capped.client.get(
        "/anything",
        headers={control.STATUS: "201", control.DELAY_MS: "1", control.CONTENT_TYPE: "text/csv"},
    )
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "text/csv"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (control.STATUS, "abc"),
        (control.STATUS, "99"),
        (control.STATUS, "600"),
        (control.DELAY_MS, "-5"),
        (control.DELAY_MS, "soon"),
        (control.DELAY_MS, "nan"),
        (control.CONTENT_TYPE, "bad"),
        (control.CONTENT_TYPE, "text/html\x7f"),
    ],
)
def test_invalid_control_is_a_json_400_as_header(echo: Echo, name: str, value: str) -> None:
    response = echo.client.get("/anything", headers={name: value})
    assert response.status_code == 400
    assert response.json["status"] == 400
    assert name in response.json["detail"]


@pytest.mark.parametrize(
    ("name", "value"),
    [(control.STATUS, "abc"), (control.DELAY_MS, "-1"), (control.CONTENT_TYPE, "nope")],
)
def test_invalid_control_is_a_json_400_as_query(echo: Echo, name: str, value: str) -> None:
    response = echo.client.get(f"/anything?{name}={value}")
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert name in response.json["detail"]


def test_parse_status_accepts_the_range_edges() -> None:
    assert (control.parse_status("200", "x"), control.parse_status("599", "x")) == (200, 599)
