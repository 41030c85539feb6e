"""Log lines stay under Cloud Logging's entry limit whatever the client sends."""

from __future__ import annotations

import json

from service.telemetry import logbounds
from tests.unit.conftest import Echo, MakeEcho


def _hostile_headers() -> dict[str, str]:
    headers = {f"X-Quote-{index}": '"' * 8000 for index in range(95)}
    headers["Cookie"] = "; ".join(f"c{index}=v" for index in range(1000))
    return headers


def test_hostile_headers_give_a_bounded_valid_line(echo: Echo) -> None:
    response = echo.client.get("/anything", headers=_hostile_headers())
    assert response.status_code == 200
    assert len(response.json["headers"]["X-Quote-3"]) == 8000  # the caller sees it whole
    (raw,) = [line for line in echo.raw_lines() if b"httpRequest" in line]
    assert len(raw) <= logbounds.LINE_BUDGET
    line = json.loads(raw)
    cut = line["request"]["cut"]
    assert "X-Quote-3" in cut["header_values"]
    assert cut["cookies_dropped"] == 1000 - logbounds.MAX_COOKIES
    assert set(line["request"]["cookies"].values()) == {"[REDACTED]"}


def test_an_ordinary_line_has_no_cut(echo: Echo) -> None:
    echo.client.get("/anything", headers={"X-Small": "1"})
    assert "cut" not in echo.exchange_line()["request"]


def test_a_large_log_body_setting_still_fits(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_LOG_BODY_BYTES": str(1 << 20), "ECHO_LOG_ECHO_BODY": "copy"})
    body = '"\\u0001' * 200_000
    echo.client.post("/anything", data=body, content_type="text/plain")
    (raw,) = [line for line in echo.raw_lines() if b"httpRequest" in line]
    assert len(raw) <= logbounds.LINE_BUDGET
    line = json.loads(raw)
    assert "data" in line["request"]["cut"]["fields"]
    assert len(line["response"]["body"]) <= logbounds.RESPONSE_BODY_BUDGET


def test_fields_give_way_in_order() -> None:
    loggable = {"files": [], "form": {}, "json": None, "data": "x" * 300_000, "args": {"a": "1"}}
    cut: dict[str, object] = {}
    encoded = logbounds.fit(loggable, json.dumps(loggable).encode(), cut)
    assert len(encoded) <= logbounds.REQUEST_BUDGET
    assert cut == {"fields": ["data"]}
    assert loggable["args"] == {"a": "1"}
