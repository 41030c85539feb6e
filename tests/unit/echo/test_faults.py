"""The fault control's app side: which values it takes, and what `slow` does by itself."""

from __future__ import annotations

import orjson
import pytest

from service.echo import body, faults
from tests.unit.conftest import Echo, MakeEcho


@pytest.mark.parametrize("value", ["explode", "", "RESET!", "slowly"])
def test_an_unknown_fault_is_a_json_400_naming_the_control(echo: Echo, value: str) -> None:
    response = echo.client.get("/anything", headers={faults.FAULT: value})
    assert response.status_code == 400 and faults.FAULT in response.json["detail"]
    assert "reset, close, truncate, malformed, slow" in response.json["detail"]


def test_faults_off_refuses_the_control(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_FAULTS": "false"})
    response = echo.client.get(f"/anything?{faults.FAULT}=slow")
    assert response.status_code == 403 and "ECHO_FAULTS=false" in response.json["detail"]


@pytest.mark.parametrize("fault", ["reset", "close", "truncate", "malformed"])
def test_a_server_fault_needs_echoscopes_server(echo: Echo, fault: str) -> None:
    # Flask's test client is not gunicorn with echoscope's worker: nothing can break there.
    response = echo.client.get(f"/anything?{faults.FAULT}={fault.upper()}")
    assert response.status_code == 400 and "HTTP/1.1 connection" in response.json["detail"]


def test_slow_answers_the_whole_record_with_its_length_and_says_so(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_MAX_DELAY_SECONDS": "0.05"})
    response = echo.client.post(
        f"/anything?{faults.FAULT}=slow&x-set-response-delay-ms=999", data="hi"
    )
    data = response.get_data()
    response.close()  # the server closes a streamed body once sent: the exchange is over
    assert response.status_code == 200 and orjson.loads(data)["data"] == "hi"
    assert int(response.headers["Content-Length"]) == len(data)
    line = echo.exchange_line()
    assert line["response"]["fault"] == "slow" and line["response"]["body_size"] == len(data)
    (event,) = echo.span().events
    assert (event.name, dict(event.attributes or {})) == (
        "echoscope.fault",
        {"echoscope.fault": "slow"},
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"%ZZ", "% not followed by two hex digits at byte 0"),
        (b"a=1&b=%4", "at byte 6"),
        (b"a=%ff", "not UTF-8"),
        (b"a=1&b=%C3%A9+x", None),
        (b"", None),
        (b"%00=%00", None),
    ],
)
def test_form_problem_says_why_a_form_cannot_be_decoded(raw: bytes, problem: str | None) -> None:
    found = body.form_problem(raw)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_a_short_body_under_another_server_is_seen_from_its_length(echo: Echo) -> None:
    # Without echoscope's worker, a Content-Length longer than the body read shows the cut.
    response = echo.client.post(
        "/anything",
        data=b"abc",
        environ_overrides={"CONTENT_LENGTH": "10", "wsgi.input_terminated": True},
    )
    assert response.status_code == 400 and "after 3 of the 10 bytes" in response.json["detail"]
    record = echo.exchange_line()["request"]
    assert (record["data"], record["body_complete"], record["body_expected_size"]) == (
        "abc",
        False,
        10,
    )
