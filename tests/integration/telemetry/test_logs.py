"""The logs on the real stdout of a real gunicorn: one Cloud Logging JSON line per exchange."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support.constants import CLOUD_TRACE_ID, TRACE_ID, TRACEPARENT
from tests.support.server import Server


@pytest.fixture(scope="module")
def project_server(make_module_server: MakeServer) -> Server:
    return make_module_server(
        {
            "GOOGLE_CLOUD_PROJECT": "my-proj",
            "ECHO_LOG_BODY_BYTES": "16",
            "K_REVISION": "rev-7",
            "ECHO_LOG_ECHO_BODY": "copy",
        }
    )


def _line(server: Server, response: requests.Response) -> dict[str, Any]:
    return server.line_for(response.headers["X-Request-Id"])


def test_every_stdout_line_is_one_json_object(server: Server) -> None:
    requests.get(f"{server.url}/anything")
    for line in server.lines():
        assert isinstance(json.loads(line), dict), line


def test_gunicorn_boot_lines_are_json(server: Server) -> None:
    boot = [line for line in server.json_lines() if line.get("logger") == "gunicorn.error"]
    messages = " ".join(line["message"] for line in boot)
    assert "Listening at" in messages and "Booting worker" in messages
    assert all(line["severity"] == "INFO" and line["time"].endswith("Z") for line in boot)


def test_exactly_one_line_per_exchange_and_none_for_excluded(server: Server) -> None:
    ids = [requests.get(f"{server.url}/anything/{n}").headers["X-Request-Id"] for n in range(5)]
    excluded = [
        requests.get(f"{server.url}/{path}").headers["X-Request-Id"]
        for path in ("health", "metrics")
    ]
    server.wait_for_lines(lambda line: line.get("uuid") == ids[-1] and "httpRequest" in line)
    logged = [line["uuid"] for line in server.exchange_lines()]
    assert all(logged.count(request_id) == 1 for request_id in ids)
    assert not set(excluded) & set(logged)


@pytest.mark.parametrize(
    ("status", "severity"), [(200, "INFO"), (302, "INFO"), (404, "WARNING"), (503, "ERROR")]
)
def test_severity_by_status(server: Server, status: int, severity: str) -> None:
    response = requests.get(f"{server.url}/status/{status}", allow_redirects=False)
    line = _line(server, response)
    assert line["severity"] == severity
    assert re.fullmatch(rf"GET /status/{status} {status} \d+\.\dms", line["message"])


def test_http_request_fields(server: Server) -> None:
    response = requests.post(
        f"{server.url}/anything/x?a=1",
        data=b"hello",
        headers={"User-Agent": "probe/1.0", "Referer": "https://ref.example/"},
    )
    http = _line(server, response)["httpRequest"]
    assert http["requestMethod"] == "POST"
    assert http["requestUrl"] == f"{server.url}/anything/x?a=1"
    assert http["status"] == 200
    assert http["requestSize"] == "5"
    assert http["responseSize"] == str(len(response.content))
    assert (http["userAgent"], http["referer"]) == ("probe/1.0", "https://ref.example/")
    assert http["remoteIp"] == "127.0.0.1"
    assert re.fullmatch(r"\d+\.\d{6}s", http["latency"])
    assert http["protocol"] == "HTTP/1.1"


def test_timestamp_uuid_request_and_response(server: Server) -> None:
    response = requests.get(f"{server.url}/anything?x=1")
    line = _line(server, response)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", line["time"])
    assert line["uuid"] == response.json()["uuid"] == line["request"]["uuid"]
    assert line["request"]["args"] == {"x": "1"}
    assert line["response"]["status"] == 200
    assert line["response"]["headers"]["X-Request-Id"] == line["uuid"]
    assert line["response"]["body_ref"] == "request"  # the echo body is the record: logged once


def test_trace_fields_from_traceparent(server: Server) -> None:
    response = requests.get(f"{server.url}/anything", headers={"traceparent": TRACEPARENT})
    line = _line(server, response)
    assert "logging.googleapis.com/trace" not in line  # no project: never a bare id
    assert line["request"]["trace"]["trace_id"] == TRACE_ID
    assert line["logging.googleapis.com/spanId"] == response.json()["trace"]["span_id"]
    assert re.fullmatch(r"[0-9a-f]{16}", line["logging.googleapis.com/spanId"])
    assert line["logging.googleapis.com/trace_sampled"] is True


def test_trace_fields_from_cloud_trace_context(server: Server) -> None:
    response = requests.get(
        f"{server.url}/anything",
        headers={"X-Cloud-Trace-Context": f"{CLOUD_TRACE_ID}/1;o=1"},
    )
    line = _line(server, response)
    assert line["request"]["trace"]["trace_id"] == CLOUD_TRACE_ID
    assert line["logging.googleapis.com/trace_sampled"] is True


def test_trace_fields_without_trace_headers(server: Server) -> None:
    response = requests.get(f"{server.url}/anything")
    line = _line(server, response)
    assert line["logging.googleapis.com/spanId"] == response.json()["trace"]["span_id"]
    assert line["logging.googleapis.com/trace_sampled"] is True


def test_trace_with_project_and_labels(project_server: Server) -> None:
    response = requests.get(f"{project_server.url}/anything", headers={"traceparent": TRACEPARENT})
    line = _line(project_server, response)
    assert line["logging.googleapis.com/trace"] == f"projects/my-proj/traces/{TRACE_ID}"
    labels = line["logging.googleapis.com/labels"]
    assert (
        labels["revision"] == "rev-7"
        and labels["instance"] == response.json()["server"]["instance"]
    )


def test_redaction(server: Server) -> None:
    secrets = {
        "Authorization": "Bearer sekret-auth",
        "X-Api-Key": "sekret-key",
        "Proxy-Authorization": "Basic sekret-proxy",
    }
    response = requests.get(
        f"{server.url}/anything?token=sekret-token&keep=visible&Password=sekret-pass",
        headers=secrets,
        cookies={"sid": "sekret-cookie"},
    )
    echoed = response.json()
    assert echoed["headers"]["Authorization"] == "Bearer sekret-auth"  # the caller sees their own
    line = _line(server, response)
    raw = json.dumps(line)
    assert "sekret" not in raw
    request = line["request"]
    assert request["headers"]["Authorization"] == "[REDACTED]"
    assert request["cookies"] == {"sid": "[REDACTED]"}
    assert request["args"]["token"] == "[REDACTED]" and request["args"]["keep"] == "visible"
    assert "token=[REDACTED]" in line["httpRequest"]["requestUrl"]


def test_set_cookie_redacted_in_response_headers(server: Server) -> None:
    response = requests.get(f"{server.url}/")
    assert response.cookies["echoscope_uuid"]
    assert _line(server, response)["response"]["headers"]["Set-Cookie"] == "[REDACTED]"


def test_bodies_truncated(project_server: Server) -> None:
    response = requests.post(f"{project_server.url}/anything", data=b"0123456789" * 10)
    line = _line(project_server, response)
    assert line["request"]["data"] == "0123456789012345"
    assert line["request"]["truncated"] is True and line["request"]["body_size"] == 100
    assert len(line["response"]["body"]) == 16 and line["response"]["truncated"] is True
    assert line["response"]["body_size"] == len(response.content)


@pytest.mark.parametrize(
    "value",
    [
        '"},"severity":"CRITICAL","message":"forged',
        '\\n{\\"severity\\":\\"CRITICAL\\"}',
        "\u2028\u2029 line separators",
        "ünïcødé ✓",
    ],
)
def test_hostile_values_stay_inside_one_line(server: Server, value: str) -> None:
    before = len(server.lines())
    response = requests.get(
        f"{server.url}/anything",
        params={"q": value},
        headers={"X-Evil": value.encode().decode("latin-1")},
    )
    line = _line(server, response)
    assert line["request"]["args"]["q"] == value
    new_lines = server.json_lines()[before:]
    assert [entry.get("severity") for entry in new_lines].count("CRITICAL") == 0
    assert sum("httpRequest" in entry for entry in new_lines) == 1


def test_console_format_is_for_humans(make_server: MakeServer) -> None:
    server = make_server({"ECHO_LOG_FORMAT": "console"})
    requests.get(f"{server.url}/anything/console-check")
    server.stop()
    text = server.output()
    assert "GET /anything/console-check 200" in text
    assert not text.lstrip().startswith("{")
