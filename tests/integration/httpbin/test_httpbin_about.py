"""go-httpbin's /env, /version, /jsonl and /head through gunicorn.

/env shows the ECHO_ENV_* variables and nothing else of the environment: a secret
next to them never reaches a response, a record or a log line.
"""

from __future__ import annotations

import json
import platform

import pytest
import requests

from service import __version__
from tests.integration.conftest import MakeServer
from tests.support.server import Server

SECRET = "s3cr3t-db-password-5b1e"


@pytest.fixture(scope="module")
def labelled(make_module_server: MakeServer) -> Server:
    return make_module_server(
        {
            "ECHO_ENV_COLOR": "blue",
            "ECHO_ENV_CANARY": "true",
            "DATABASE_PASSWORD": SECRET,
            "HTTPBIN_ENV_OTHER": SECRET,  # go-httpbin's prefix is not echoscope's
            "ECHO_ENVIRONMENT": SECRET,  # no underscore after ENV: not the prefix
            "K_REVISION": "echoscope-00042-abc",
            "ECHO_MAX_DELAY_SECONDS": "2",
        }
    )


def test_env_shows_only_the_allow_listed_variables(labelled: Server) -> None:
    response = requests.get(f"{labelled.url}/env", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"env": {"ECHO_ENV_CANARY": "true", "ECHO_ENV_COLOR": "blue"}}


def test_the_records_server_carries_them_and_no_secret_is_anywhere(labelled: Server) -> None:
    record = requests.get(f"{labelled.url}/anything/blue-green", timeout=5).json()
    assert record["server"]["env"] == {"ECHO_ENV_CANARY": "true", "ECHO_ENV_COLOR": "blue"}
    line = labelled.line_for(record["uuid"])
    assert line["request"]["server"]["env"]["ECHO_ENV_COLOR"] == "blue"
    for path in ("/env", "/version", "/anything", "/get", "/dump/request"):
        assert SECRET not in requests.get(f"{labelled.url}{path}", timeout=5).text, path
    assert SECRET not in labelled.output()


def test_no_prefixed_variable_means_an_empty_env(server: Server) -> None:
    assert requests.get(f"{server.url}/env", timeout=5).json() == {"env": {}}
    assert requests.get(f"{server.url}/anything", timeout=5).json()["server"]["env"] == {}


def test_version(labelled: Server, server: Server) -> None:
    assert requests.get(f"{labelled.url}/version", timeout=5).json() == {
        "service": "echoscope",
        "version": __version__,
        "python_version": platform.python_version(),
        "revision": "echoscope-00042-abc",
    }
    assert "revision" not in requests.get(f"{server.url}/version", timeout=5).json()


@pytest.mark.parametrize("path", ["/env", "/version", "/jsonl"])
def test_a_write_to_a_read_only_route_is_a_json_405(labelled: Server, path: str) -> None:
    response = requests.post(f"{labelled.url}{path}", timeout=5)
    assert response.status_code == 405 and response.json()["status"] == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_jsonl_lines(labelled: Server) -> None:
    response = requests.get(
        f"{labelled.url}/jsonl?count=4&a=1", headers={"X-Probe": "p"}, stream=True, timeout=5
    )
    assert response.headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert "Content-Length" not in response.headers  # streamed, line by line
    lines = [json.loads(line) for line in response.iter_lines()]
    assert [line["id"] for line in lines] == [0, 1, 2, 3]
    assert set(lines[0]) == {"id", "args", "headers", "origin", "url"}
    assert lines[0]["args"] == {"count": "4", "a": "1"} and lines[0]["origin"] == "127.0.0.1"
    assert lines[3]["headers"]["X-Probe"] == "p"
    line = labelled.line_for(response.headers["X-Request-Id"])
    assert line["httpRequest"]["responseSize"] == str(
        sum(len(json.dumps(x, separators=(",", ":"))) + 1 for x in lines)
    )


def test_jsonl_default_count_and_pacing(labelled: Server) -> None:
    assert len(requests.get(f"{labelled.url}/jsonl", timeout=5).text.splitlines()) == 10
    paced = requests.get(f"{labelled.url}/jsonl?count=3&duration=200ms&jitter=0.5", timeout=5)
    assert len(paced.text.splitlines()) == 3


@pytest.mark.parametrize(
    "query",
    ["count=0", "count=10001", "count=x", "duration=3s", "delay=1.5&duration=1s", "jitter=2",
     "delay=x", "count=10000&pad=" + "x" * 1000],
)  # fmt: skip
def test_jsonl_bounds_are_400(labelled: Server, query: str) -> None:
    response = requests.get(f"{labelled.url}/jsonl?{query}", timeout=5)
    assert response.status_code == 400 and response.json()["status"] == 400


def test_jsonl_total_size_is_bounded_by_the_body_limit(make_server: MakeServer) -> None:
    small = make_server({"ECHO_MAX_BODY_BYTES": "2000"})
    assert requests.get(f"{small.url}/jsonl?count=5", timeout=5).status_code == 200
    refused = requests.get(f"{small.url}/jsonl?count=50", timeout=5)
    assert refused.status_code == 400 and "2000" in refused.json()["detail"]


def test_head_answers_head_only(labelled: Server) -> None:
    head = requests.head(f"{labelled.url}/head?a=1", timeout=5)
    get = requests.get(f"{labelled.url}/get?a=1", timeout=5)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Type"] == "application/json"
    assert int(head.headers["Content-Length"]) == len(get.content) - len("get") + len("head")
    refused = requests.get(f"{labelled.url}/head", timeout=5)
    assert refused.status_code == 405 and refused.headers["Allow"] == "HEAD"
