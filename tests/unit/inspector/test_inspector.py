"""The inspector (SPEC §10): /_echoscope/ behind the token, the history it reads, nothing when off."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from service.inspector import routes as inspector_routes
from tests.support.constants import TRACE_ID, TRACEPARENT
from tests.unit.conftest import Echo, MakeEcho

TOKEN = "inspect-me-7f3a9c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
UI = Path(inspector_routes.__file__).with_name("ui")
PATHS = [
    "/_echoscope",
    "/_echoscope/",
    "/_echoscope/inspector.js",
    "/_echoscope/inspector.css",
    "/_echoscope/exchanges",
    "/_echoscope/exchanges/stream",
    "/_echoscope/exchanges/0123456789abcdef0123456789abcdef",
    "/_echoscope/anything/else",
]


@pytest.fixture
def on(make_echo: MakeEcho, tmp_path: Path) -> Echo:
    """An app with the inspector on and its own SQLite history."""
    return make_echo(
        {"ECHO_INSPECT_TOKEN": TOKEN, "ECHO_HISTORY_PATH": str(tmp_path / "history.sqlite3")}
    )


def flushed(echo: Echo) -> Echo:
    inspector_routes.flush(echo.app, timeout=5)
    return echo


def listed(echo: Echo, query: str = "") -> list[dict[str, Any]]:
    response = flushed(echo).client.get(f"/_echoscope/exchanges{query}", headers=AUTH)
    assert response.status_code == 200, response.get_data(as_text=True)
    exchanges: list[dict[str, Any]] = response.get_json()["exchanges"]
    return exchanges


# --- off ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_without_the_token_setting_every_inspector_path_is_a_json_404(
    echo: Echo, path: str, method: str
) -> None:
    response = echo.client.open(path, method=method, headers=AUTH)
    assert response.status_code == 404
    assert response.get_json()["status"] == 404


def test_without_the_token_setting_nothing_is_recorded(echo: Echo) -> None:
    echo.client.get("/anything")
    assert inspector_routes.RECORDER not in echo.app.extensions


# --- the token ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/_echoscope/exchanges",
        "/_echoscope/exchanges/stream",
        "/_echoscope/exchanges/0123456789abcdef0123456789abcdef",
    ],
)
def test_data_needs_the_token(on: Echo, headers: dict[str, str], path: str) -> None:
    on.client.get("/anything?secret-marker=1")
    response = flushed(on).client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "Unauthorized",
        "status": 401,
        "detail": "send Authorization: Bearer <the ECHO_INSPECT_TOKEN value>",
    }
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"secret-marker" not in response.get_data()


def test_the_token_is_never_logged(on: Echo) -> None:
    on.client.get("/_echoscope/exchanges", headers=AUTH)
    on.client.get("/anything", headers=AUTH)
    assert on.exchange_lines()
    assert TOKEN.encode() not in on.stream.getvalue()


def test_the_page_and_its_files_need_no_token_and_hold_no_data(on: Echo) -> None:
    on.client.get("/anything?secret-marker=1")
    for path, kind in (
        ("/_echoscope/", "text/html"),
        ("/_echoscope/inspector.js", "text/javascript"),
        ("/_echoscope/inspector.css", "text/css"),
    ):
        response = flushed(on).client.get(path)
        assert response.status_code == 200
        assert response.mimetype == kind
        assert b"secret-marker" not in response.get_data()


def test_the_page_has_a_strict_content_security_policy(on: Echo) -> None:
    policy = on.client.get("/_echoscope/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


def test_the_page_renders_data_as_text_only() -> None:
    script = (UI / "inspector.js").read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", script)
    assert "<script>" not in (UI / "index.html").read_text()  # nothing inline: the CSP allows none


def test_the_bare_prefix_redirects_to_the_page_without_html(on: Echo) -> None:
    response = on.client.get("/_echoscope")
    assert (response.status_code, response.headers["Location"]) == (308, "/_echoscope/")
    assert response.get_data() == b""


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/_echoscope/exchanges", 405),
        ("DELETE", "/_echoscope/exchanges/0123456789abcdef0123456789abcdef", 405),
        ("HEAD", "/_echoscope/exchanges/stream", 405),
        ("GET", "/_echoscope/nothing-here", 404),
    ],
)
def test_other_methods_and_paths_are_json_errors(
    on: Echo, method: str, path: str, status: int
) -> None:
    response = on.client.open(path, method=method, headers=AUTH)
    assert response.status_code == status
    if method != "HEAD":
        assert response.get_json()["status"] == status


# --- what is recorded ----------------------------------------------------------------------


def test_an_exchange_is_kept_as_its_log_line_holds_it(on: Echo) -> None:
    response = on.client.post(
        "/anything?x=1", data="hello", headers={"traceparent": TRACEPARENT, "X-Probe": "p"}
    )
    (kept,) = listed(on)
    (line,) = [line for line in on.exchange_lines() if line["uuid"] == kept["uuid"]]
    assert kept["uuid"] == response.headers["X-Request-Id"]
    assert (kept["method"], kept["path"], kept["status"]) == ("POST", "/anything", 200)
    assert kept["trace_id"] == TRACE_ID
    assert kept["message"] == line["message"]
    for field in ("httpRequest", "request"):
        assert kept[field] == line[field]
    # The line refers to the echo body (`body_ref`); the page keeps the body to show it.
    assert line["response"]["body_ref"] == "request"
    assert json.loads(kept["response"].pop("body")) == kept["request"]
    assert kept["response"] == {k: v for k, v in line["response"].items() if k != "body_ref"}
    assert kept["request"]["headers"]["X-Probe"] == "p"
    assert kept["latency_ms"] >= 0
    assert re.fullmatch(r"\d+", kept["id"])


def test_secrets_are_redacted_in_the_stored_copy(on: Echo) -> None:
    on.client.get(
        "/anything?token=qs-secret-1&keep=1",
        headers={
            "Authorization": "Bearer hdr-secret-2",
            "Cookie": "session=cookie-secret-3",
            "X-Api-Key": "key-secret-4",
            "Referer": "https://a.example/?password=ref-secret-5",
        },
    )
    (kept,) = listed(on)
    stored = json.dumps(kept)
    for secret in (
        "qs-secret-1",
        "hdr-secret-2",
        "cookie-secret-3",
        "key-secret-4",
        "ref-secret-5",
    ):
        assert secret not in stored
    assert kept["request"]["headers"]["Authorization"] == "[REDACTED]"
    assert kept["request"]["args"]["keep"] == "1"


def test_bodies_are_bounded_as_in_the_log(make_echo: MakeEcho, tmp_path: Path) -> None:
    echo = make_echo(
        {
            "ECHO_INSPECT_TOKEN": TOKEN,
            "ECHO_HISTORY_PATH": str(tmp_path / "h.sqlite3"),
            "ECHO_LOG_BODY_BYTES": "16",
        }
    )
    echo.client.post("/anything", data="x" * 10_000)
    (kept,) = listed(echo)
    assert kept["request"]["data"] == "x" * 16
    assert kept["request"]["truncated"] is True
    assert len(kept["response"]["body"]) == 16


def test_the_inspector_and_excluded_paths_are_never_recorded(on: Echo) -> None:
    on.client.get("/_echoscope/", headers=AUTH)
    on.client.get("/_echoscope/exchanges", headers=AUTH)
    on.client.get("/_echoscope/nothing")
    on.client.get("/health")
    on.client.get("/metrics")
    on.client.get("/recorded")
    assert [kept["path"] for kept in listed(on)] == ["/recorded"]


# --- the API -------------------------------------------------------------------------------


def test_newest_first_with_filters(on: Echo) -> None:
    on.client.get("/a/one", headers={"traceparent": TRACEPARENT})
    on.client.post("/a/two")
    on.client.get("/b/three?x-set-response-status-code=418")
    assert [kept["path"] for kept in listed(on)] == ["/b/three", "/a/two", "/a/one"]
    assert [kept["path"] for kept in listed(on, "?path=/a/")] == ["/a/two", "/a/one"]
    assert [kept["path"] for kept in listed(on, "?status=418")] == ["/b/three"]
    assert [kept["path"] for kept in listed(on, "?method=post")] == ["/a/two"]
    assert [kept["path"] for kept in listed(on, f"?trace_id={TRACE_ID.upper()}")] == ["/a/one"]
    assert [kept["path"] for kept in listed(on, "?limit=1")] == ["/b/three"]
    uuid = listed(on, "?limit=1")[0]["uuid"]
    assert [kept["path"] for kept in listed(on, f"?uuid={uuid}")] == ["/b/three"]


@pytest.mark.parametrize(
    "query",
    [
        "trace_id=xyz",
        "uuid=123",
        "status=abc",
        "status=600",
        "status=\uff12\uff10\uff10",
        "method=G%20T",
        "path=no-slash",
        "limit=0",
        "limit=501",
        "limit=-1",
    ],
)
def test_a_bad_filter_is_a_json_400(on: Echo, query: str) -> None:
    response = on.client.get(f"/_echoscope/exchanges?{query}", headers=AUTH)
    assert response.status_code == 400
    assert query.split("=")[0] in response.get_json()["detail"]


def test_one_exchange_by_uuid(on: Echo) -> None:
    uuid = on.client.get("/one").headers["X-Request-Id"]
    response = flushed(on).client.get(f"/_echoscope/exchanges/{uuid}", headers=AUTH)
    assert response.status_code == 200
    assert (response.get_json()["uuid"], response.get_json()["path"]) == (uuid, "/one")
    assert response.headers["Cache-Control"] == "no-store"
    for missing in ("0" * 32, "not-an-id", uuid.upper()):
        response = on.client.get(f"/_echoscope/exchanges/{missing}", headers=AUTH)
        assert response.status_code == 404
        assert response.get_json()["status"] == 404


def test_links_follow_the_templates(make_echo: MakeEcho, tmp_path: Path) -> None:
    echo = make_echo(
        {
            "ECHO_INSPECT_TOKEN": TOKEN,
            "ECHO_HISTORY_PATH": str(tmp_path / "h.sqlite3"),
            "ECHO_TRACE_URL_TEMPLATE": "http://jaeger.local:16686/trace/{trace_id}",
            "GOOGLE_CLOUD_PROJECT": "my-project",
        }
    )
    echo.client.get("/linked", headers={"traceparent": TRACEPARENT})
    (kept,) = listed(echo)
    assert kept["links"]["trace"] == f"http://jaeger.local:16686/trace/{TRACE_ID}"
    assert kept["links"]["logs"] == (
        "https://console.cloud.google.com/logs/query;"
        f"query=jsonPayload.uuid%3D%22{kept['uuid']}%22?project=my-project"
    )


def test_no_links_without_a_template_or_a_project(on: Echo) -> None:
    on.client.get("/plain")
    assert listed(on)[0]["links"] == {}


def test_the_stream_starts_after_last_event_id(on: Echo) -> None:
    on.client.get("/first")
    on.client.get("/second")
    first = listed(on, "?path=/first")[0]
    response = on.client.get(
        "/_echoscope/exchanges/stream", headers={**AUTH, "Last-Event-ID": first["id"]}
    )
    assert response.mimetype == "text/event-stream"
    chunks = response.response
    opening = next(chunks)  # type: ignore[call-overload]
    assert opening.startswith(b"retry: ")
    event = next(chunks)  # type: ignore[call-overload]
    lines = dict(line.split(b": ", 1) for line in event.strip().split(b"\n"))
    assert lines[b"event"] == b"exchange"
    assert json.loads(lines[b"data"])["path"] == "/second"
    response.close()


@pytest.mark.parametrize("cursor", ["abc", "1-2", "-1", "9" * 30])
def test_a_bad_last_event_id_is_a_json_400(on: Echo, cursor: str) -> None:
    response = on.client.get(
        "/_echoscope/exchanges/stream", headers={**AUTH, "Last-Event-ID": cursor}
    )
    assert response.status_code == 400


def test_live_streams_are_capped_per_worker(make_echo: MakeEcho, tmp_path: Path) -> None:
    echo = make_echo(
        {
            "ECHO_INSPECT_TOKEN": TOKEN,
            "ECHO_HISTORY_PATH": str(tmp_path / "h.sqlite3"),
            "ECHO_THREADS": "2",
        }
    )
    first = echo.client.get("/_echoscope/exchanges/stream", headers=AUTH)
    next(first.response)  # type: ignore[call-overload]
    busy = echo.client.get("/_echoscope/exchanges/stream", headers=AUTH)
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "5"
    first.close()  # the slot is given back
    again = echo.client.get("/_echoscope/exchanges/stream", headers=AUTH)
    assert again.status_code == 200
    again.close()


def test_a_store_that_fails_is_a_503_for_the_api_and_nothing_for_requests(
    make_echo: MakeEcho, tmp_path: Path
) -> None:
    missing_dir = tmp_path / "no-such-dir" / "h.sqlite3"
    echo = make_echo({"ECHO_INSPECT_TOKEN": TOKEN, "ECHO_HISTORY_PATH": str(missing_dir)})
    assert echo.client.get("/anything").status_code == 200
    flushed(echo)
    response = echo.client.get("/_echoscope/exchanges", headers=AUTH)
    assert response.status_code == 503
    assert response.get_json()["error"] == "Service Unavailable"
    warnings = [line for line in echo.lines() if line["message"].startswith("history store")]
    assert len(warnings) == 1
    assert warnings[0]["severity"] == "WARNING"
