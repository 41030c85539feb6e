"""Security: no debug mode by any setting, no secret in logs or spans, a non-root container."""

from __future__ import annotations

import secrets
import time
from typing import Any

import dockerfile
import pytest
import requests
from flask import Response

from service.app import create_app
from service.settings import Settings
from tests.integration.conftest import MakeServer
from tests.support import raw
from tests.support.otlp import OtlpReceiver
from tests.support.server import ROOT, Server

DEBUG_ENV = {
    "FLASK_DEBUG": "1",
    "FLASK_ENV": "development",
    "FLASK_RUN_DEBUG": "1",
    "WERKZEUG_DEBUG_PIN": "off",
    "FLASK_PROPAGATE_EXCEPTIONS": "1",
    "ECHO_DEBUG": "1",
    "DEBUG": "1",
}
ERROR_KEYS = {"error", "status", "detail"}


# ---------------------------------------------------------------- debug mode


@pytest.fixture(scope="module")
def debug_env_server(make_module_server: MakeServer) -> Server:
    """A server started with every debug switch a user might try."""
    return make_module_server({**DEBUG_ENV, "ECHO_MAX_BODY_BYTES": "1024"})


def test_debug_settings_in_the_environment_leave_debug_off(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DEBUG_ENV.items():
        monkeypatch.setenv(name, value)  # Flask reads FLASK_DEBUG itself, when the app is made
    app = create_app(Settings.from_env(DEBUG_ENV))
    assert app.debug is False and not app.config["PROPAGATE_EXCEPTIONS"]

    def explode(response: Response) -> Response:
        raise RuntimeError("boom: secret internals")

    app.after_request(explode)  # an error outside any view: debug mode would re-raise it
    response = app.test_client().get("/anything")
    assert response.status_code == 500
    assert set(response.get_json()) == ERROR_KEYS
    assert b"boom" not in response.data and b"Traceback" not in response.data


@pytest.mark.parametrize(
    "path",
    [
        "/console",
        "/console?__debugger__=yes&cmd=resource&f=style.css",
        "/anything?__debugger__=yes&cmd=printpin&s=x",
    ],
)
def test_werkzeug_debugger_paths_are_just_echoes(debug_env_server: Server, path: str) -> None:
    response = requests.get(f"{debug_env_server.url}{path}", timeout=5)
    assert response.status_code == 200
    assert response.json()["path"] == path.partition("?")[0]


def test_flask_static_route_is_not_exposed(debug_env_server: Server) -> None:
    # Any path is an echo: Flask's default /static/<filename> must not answer 404.
    response = requests.get(f"{debug_env_server.url}/static/app.js", timeout=5)
    assert response.status_code == 200 and response.json()["path"] == "/static/app.js"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ([(b"x-set-response-status-code", b"9" * 5000)], b""),
        ([(b"Transfer-Encoding", b"chunked")], b"zz\r\nabc\r\n0\r\n\r\n"),
        ([(b"Content-Type", b"application/json")], b"[" * 600),
        ([(b"Content-Length", b"99999")], b""),
    ],
)
def test_errors_under_debug_settings_are_json_without_traceback(
    debug_env_server: Server, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    request = b"POST /anything HTTP/1.1\r\nHost: x\r\n"
    request += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    if body and not any(name == b"Transfer-Encoding" for name, _ in headers):
        request += b"Content-Length: %d\r\n" % len(body)
    response = raw.send(debug_env_server.port, request + b"Connection: close\r\n\r\n" + body)
    assert response is not None
    assert response.headers["content-type"].startswith("application/json")
    assert b"Traceback" not in response.body and b"<html" not in response.body.lower()
    if response.status >= 400:
        assert set(response.json()) == ERROR_KEYS and response.json()["status"] == response.status
    assert requests.get(f"{debug_env_server.url}/health", timeout=5).status_code == 200


# ---------------------------------------------------------------- secrets in logs and spans


@pytest.fixture(scope="module")
def traced(receiver: OtlpReceiver, make_module_server: MakeServer) -> Server:
    """Exporting spans, with every request and response header captured as span attributes."""
    return make_module_server(
        {
            **receiver.env(),
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": ".*",
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": ".*",
            "ECHO_MAX_BODY_BYTES": "1024",
            "ECHO_LOG_LEVEL": "DEBUG",
        }
    )


class Secrets:
    """Fresh secret values, one per place a secret travels, to search for afterwards."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def new(self, where: str) -> str:
        value = f"S3CR3T{secrets.token_hex(8)}"
        self.values[where] = value
        return value

    def request_parts(self) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """Headers, query parameters and cookies, each carrying a secret."""
        headers = {
            "Authorization": f"Bearer {self.new('authorization')}",
            "Proxy-Authorization": f"Basic {self.new('proxy-authorization')}",
            "X-Api-Key": self.new("x-api-key"),
            "X-Serverless-Authorization": f"Bearer {self.new('x-serverless-authorization')}",
            "Referer": f"https://app.example/page?token={self.new('referer token')}",
        }
        names = [
            "token",
            "access_token",
            "password",
            "secret",
            "api_key",
            "key",
            "sig",
            "signature",
        ]
        query = {name: self.new(f"query {name}") for name in names}
        cookies = {"session": self.new("cookie session"), "csrftoken": self.new("cookie csrftoken")}
        return headers, query, cookies


def _send_with_secrets(server: Server, found: Secrets) -> list[str]:
    """Every kind of exchange, each carrying secrets; returns the X-Request-Ids."""
    ids = []
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/anything", {}),
        ("GET", "/", {}),
        ("POST", "/anything/x", {"data": b"body"}),
        ("GET", "/status/500", {}),
        ("GET", "/status/204", {}),
        ("GET", "/status/abc", {}),
        ("GET", "/delay/0", {}),
        ("POST", "/health", {}),
        ("POST", "/anything", {"data": b"x" * 2000}),  # 413
        ("GET", "/anything", {"headers": {"x-set-response-status-code": "bad"}}),  # 400
        (
            "OPTIONS",
            "/anything",
            {"headers": {"Origin": "https://o", "Access-Control-Request-Method": "PUT"}},
        ),
        ("PROPFIND", "/dav", {}),
    ]
    for method, path, extra in cases:
        headers, query, cookies = found.request_parts()
        headers.update(extra.pop("headers", {}))
        response = requests.request(
            method,
            f"{server.url}{path}",
            headers=headers,
            params=query,
            cookies=cookies,
            timeout=5,
            **extra,
        )
        assert response.status_code < 500 or path == "/status/500"
        ids.append(response.headers["X-Request-Id"])
    # Repeated, upper-case and percent-encoded names are the same parameters.
    odd = f"token={found.new('repeated 1')}&token={found.new('repeated 2')}"
    odd += f"&TOKEN={found.new('upper')}&to%6Ben={found.new('encoded name')}&Api_Key={found.new('mixed')}"
    ids.append(requests.get(f"{server.url}/anything?{odd}", timeout=5).headers["X-Request-Id"])
    return ids


def test_no_secret_in_any_log_line_or_span(traced: Server, receiver: OtlpReceiver) -> None:
    found = Secrets()
    ids = _send_with_secrets(traced, found)
    # POST /health is an excluded path: no exchange line and no span for it.
    traced.wait_for_lines(
        lambda line: line.get("uuid") in set(ids) and "httpRequest" in line, len(ids) - 1
    )
    receiver.wait_for(len(ids) - 1, kind=2)
    time.sleep(0.3)  # let the last batch land
    output = traced.output()
    in_logs = sorted(where for where, value in found.values.items() if value in output)
    span_texts = [repr((s.name, s.attributes, s.resource)) for s in receiver.spans]
    in_spans = sorted(
        where for where, value in found.values.items() if any(value in t for t in span_texts)
    )
    assert not in_logs and not in_spans, f"secrets in log lines: {in_logs}; in spans: {in_spans}"


def test_the_echo_itself_still_shows_the_secrets(traced: Server) -> None:
    # Redaction is for logs and spans: the caller sees exactly what it sent.
    found = Secrets()
    headers, query, cookies = found.request_parts()
    record = requests.get(
        f"{traced.url}/anything", headers=headers, params=query, cookies=cookies, timeout=5
    ).json()
    assert record["headers"]["Authorization"] == headers["Authorization"]
    assert record["args"]["token"] == query["token"] and record["cookies"] == cookies


def test_no_secret_in_gunicorns_refusal_lines(traced: Server) -> None:
    # gunicorn logs the request line it refuses: a secret in its query must not reach the log.
    value = secrets.token_hex(8)

    def refusal(line: dict[str, Any]) -> bool:
        return "Invalid request" in str(line.get("message", ""))

    before = len([line for line in traced.json_lines() if refusal(line)])
    refused = raw.send(
        traced.port,
        b"GET /anything?token=" + value.encode() + b"&x=\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    assert refused is not None and refused.status == 400
    traced.wait_for_lines(refusal, before + 1)
    assert value not in traced.output()


# ---------------------------------------------------------------- the container


def test_dockerfile_runs_as_a_non_root_user() -> None:
    path = ROOT / "Dockerfile"
    assert path.exists(), "no Dockerfile"
    commands = dockerfile.parse_file(str(path))
    final_stage = [
        index for index, command in enumerate(commands) if command.cmd.upper() == "FROM"
    ][-1]
    stage = commands[final_stage:]
    cmd_at = [index for index, command in enumerate(stage) if command.cmd.upper() == "CMD"]
    assert cmd_at, "the final stage has no CMD"
    users = [command.value[0] for command in stage[: cmd_at[-1]] if command.cmd.upper() == "USER"]
    assert users, "no USER before CMD: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, f"USER {users[-1]} is root"
    if not user.isdigit():  # a named user must be created in this stage, not with uid 0
        creates = [
            command.value[0]
            for command in stage
            if command.cmd.upper() == "RUN" and user in command.value[0].split()
        ]
        assert creates and not any("--uid 0 " in f"{c} " or "-u 0 " in f"{c} " for c in creates), (
            creates
        )
