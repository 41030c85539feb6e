"""Logs (SPEC §4): one Cloud-Logging-shaped JSON line per exchange, redacted and bounded."""

from __future__ import annotations

import datetime
import io
import json
import logging
import logging.config
import re
from collections.abc import Iterator

import pytest
import structlog

from service.server import logconfig
from service.settings import Settings
from service.telemetry import logfields, logparts
from tests.support.constants import CLOUD_TRACE_ID, TRACE_ID, TRACEPARENT
from tests.unit.conftest import Echo, MakeEcho

TRACE = "logging.googleapis.com/trace"
SPAN = "logging.googleapis.com/spanId"
SAMPLED = "logging.googleapis.com/trace_sampled"
HTTP_REQUEST_FIELDS = {
    "requestMethod",
    "requestUrl",
    "status",
    "requestSize",
    "responseSize",
    "userAgent",
    "remoteIp",
    "referer",
    "latency",
    "protocol",
}
DEFAULT_REDACTED_HEADERS = [
    "Authorization",
    "proxy-authorization",
    "COOKIE",
    "Set-Cookie",
    "X-Api-Key",
    "x-serverless-authorization",
]


# --- one line per exchange --------------------------------------------------------------


def test_one_exchange_line_per_request(echo: Echo) -> None:
    echo.client.get("/a")
    echo.client.post("/b", data="x")
    echo.client.get("/status/418")
    assert [line["httpRequest"]["requestUrl"] for line in echo.exchange_lines()] == [
        "http://localhost/a",
        "http://localhost/b",
        "http://localhost/status/418",
    ]
    assert len(echo.raw_lines()) == 3


@pytest.mark.parametrize("path", ["/health", "/metrics"])
def test_no_line_for_excluded_paths(echo: Echo, path: str) -> None:
    assert echo.client.get(path).status_code == 200
    assert echo.raw_lines() == []


def test_excluded_paths_come_from_the_setting(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_EXCLUDE_PATHS": "/quiet"})
    echo.client.get("/quiet")
    echo.client.get("/health")
    assert [line["httpRequest"]["requestUrl"] for line in echo.exchange_lines()] == [
        "http://localhost/health"
    ]


def test_excluded_path_prefix_is_still_logged(echo: Echo) -> None:
    echo.client.get("/healthy")
    assert echo.exchange_line()["httpRequest"]["requestUrl"] == "http://localhost/healthy"


@pytest.mark.parametrize(
    ("path", "severity"),
    [
        ("/status/200", "INFO"),
        ("/status/302", "INFO"),
        ("/status/399", "INFO"),
        ("/status/400", "WARNING"),
        ("/status/404", "WARNING"),
        ("/status/499", "WARNING"),
        ("/status/500", "ERROR"),
        ("/status/599", "ERROR"),
    ],
)
def test_severity_follows_the_status(echo: Echo, path: str, severity: str) -> None:
    echo.client.get(path)
    assert echo.exchange_line()["severity"] == severity


def test_log_level_warning_drops_info_exchanges(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_LOG_LEVEL": "WARNING"})
    echo.client.get("/status/200")
    echo.client.get("/status/404")
    assert [line["httpRequest"]["status"] for line in echo.exchange_lines()] == [404]


def test_http_request_has_every_field(echo: Echo) -> None:
    response = echo.client.post(
        "/path?q=1",
        data="hello",
        headers={"User-Agent": "probe/1.0", "Referer": "https://from.example/page"},
        environ_base={"REMOTE_ADDR": "192.0.2.9"},
    )
    http = echo.exchange_line()["httpRequest"]
    assert set(http) == HTTP_REQUEST_FIELDS
    assert http["requestMethod"] == "POST"
    assert http["requestUrl"] == "http://localhost/path?q=1"
    assert http["status"] == 200
    assert http["requestSize"] == "5"
    assert http["responseSize"] == str(len(response.data))
    assert http["userAgent"] == "probe/1.0"
    assert http["remoteIp"] == "192.0.2.9"
    assert http["referer"] == "https://from.example/page"
    assert re.fullmatch(r"\d+\.\d{6}s", http["latency"])
    assert http["protocol"] == "HTTP/1.1"


def test_remote_ip_is_the_client_ip_behind_a_trusted_proxy(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_TRUSTED_PROXY_HOPS": "1"})
    echo.client.get(
        "/", headers={"X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "10.0.0.2"}
    )
    assert echo.exchange_line()["httpRequest"]["remoteIp"] == "203.0.113.7"


def test_message_is_method_path_status_and_milliseconds(echo: Echo) -> None:
    echo.client.get("/some/path?q=1")
    assert re.fullmatch(r"GET /some/path 200 \d+\.\dms", echo.exchange_line()["message"])


def test_message_of_an_error_status(echo: Echo) -> None:
    echo.client.delete("/status/503")
    assert re.fullmatch(r"DELETE /status/503 503 \d+\.\dms", echo.exchange_line()["message"])


def test_timestamp_is_rfc3339_utc(echo: Echo) -> None:
    before = datetime.datetime.now(datetime.UTC)
    echo.client.get("/")
    line = echo.exchange_line()
    assert "timestamp" not in line  # the agent reads `time`; a string `timestamp` is ignored
    stamp = line["time"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", stamp)
    parsed = datetime.datetime.fromisoformat(stamp)
    assert parsed.utcoffset() == datetime.timedelta(0)
    assert abs((parsed - before).total_seconds()) < 60


@pytest.mark.parametrize(
    "now_ns",
    [
        1_714_564_800_123_456_789,  # rounded down to the microsecond, as datetime.now() does
        1_714_564_800_000_000_999,  # a whole second: no fraction, as isoformat() writes it
        1_714_564_800_000_001_000,
        1_714_564_859_999_999_999,  # the same minute's last microsecond
        1_709_164_800_500_000_000,  # 2024-02-29
        0,
    ],
)
def test_time_is_written_as_structlogs_iso_utc_stamper_writes_it(
    monkeypatch: pytest.MonkeyPatch, now_ns: int
) -> None:
    stamper = logfields.CloudTraceFields()
    stamper(None, "info", {})  # another second first: the cached text must follow the clock
    monkeypatch.setattr(logfields.time, "time_ns", lambda: now_ns)
    seconds, micros = divmod(now_ns // 1000, 1_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC).replace(microsecond=micros)
    expected = moment.isoformat().replace("+00:00", "Z")
    assert stamper(None, "info", {})["time"] == expected
    assert stamper(None, "info", {})["time"] == expected  # from the cached second too


def test_uuid_is_the_request_id(echo: Echo) -> None:
    response = echo.client.get("/")
    line = echo.exchange_line()
    assert line["uuid"] == line["request"]["uuid"] == response.headers["X-Request-Id"]


def test_request_is_the_record_and_response_its_answer(echo: Echo) -> None:
    response = echo.client.get("/status/201")
    line = echo.exchange_line()
    assert line["request"] == response.json
    assert line["response"]["status"] == 201
    assert line["response"]["headers"]["X-Request-Id"] == response.headers["X-Request-Id"]
    assert line["response"]["body_ref"] == "request"  # the echo body is the record, logged once
    assert "body" not in line["response"]
    assert line["response"]["body_size"] == len(response.data)


def test_the_echo_body_can_be_logged_as_a_copy(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_LOG_ECHO_BODY": "copy"})
    response = echo.client.get("/status/201")
    line = echo.exchange_line()
    assert json.loads(line["response"]["body"]) == response.json == line["request"]
    assert "body_ref" not in line["response"]


def test_error_response_body_is_logged(echo: Echo) -> None:
    response = echo.client.get("/status/abc")
    assert json.loads(echo.exchange_line()["response"]["body"]) == response.json


@pytest.mark.parametrize("path", ["/status/204", "/anything?x-set-response-status-code=204"])
def test_logged_response_body_of_a_204_is_empty(echo: Echo, path: str) -> None:
    assert echo.client.get(path).data == b""
    response = echo.exchange_line()["response"]
    assert (response["status"], response["body"], response["body_size"]) == (204, "", 0)


# --- trace fields ------------------------------------------------------------------------


def test_trace_fields_from_traceparent(make_echo: MakeEcho) -> None:
    echo = make_echo({"GOOGLE_CLOUD_PROJECT": "p"})
    record = echo.client.get("/", headers={"traceparent": TRACEPARENT}).json
    line = echo.exchange_line()
    assert line[TRACE] == f"projects/p/traces/{TRACE_ID}"
    assert line[SPAN] == record["trace"]["span_id"]
    assert re.fullmatch(r"[0-9a-f]{16}", line[SPAN])
    assert line[SAMPLED] is True


def test_trace_fields_from_cloud_trace_context(make_echo: MakeEcho) -> None:
    echo = make_echo({"GOOGLE_CLOUD_PROJECT": "p"})
    echo.client.get("/", headers={"X-Cloud-Trace-Context": f"{CLOUD_TRACE_ID}/123;o=1"})
    line = echo.exchange_line()
    assert line[TRACE] == f"projects/p/traces/{CLOUD_TRACE_ID}"
    assert line[SAMPLED] is True


def test_trace_fields_of_a_new_trace(make_echo: MakeEcho) -> None:
    echo = make_echo({"GOOGLE_CLOUD_PROJECT": "p"})
    record = echo.client.get("/").json
    line = echo.exchange_line()
    assert line[TRACE] == f"projects/p/traces/{record['trace']['trace_id']}"
    assert line[SPAN] == record["trace"]["span_id"]


def test_trace_fields_of_an_unsampled_request(echo: Echo) -> None:
    echo.client.get("/", headers={"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-00"})
    assert echo.exchange_line()[SAMPLED] is False


def test_project_prefixes_the_trace(make_echo: MakeEcho) -> None:
    echo = make_echo({"GOOGLE_CLOUD_PROJECT": "my-project"})
    echo.client.get("/", headers={"traceparent": TRACEPARENT})
    assert echo.exchange_line()[TRACE] == f"projects/my-project/traces/{TRACE_ID}"


def test_project_of_one_app_does_not_leak_into_the_next(make_echo: MakeEcho) -> None:
    make_echo({"GOOGLE_CLOUD_PROJECT": "my-project"})
    echo = make_echo({})
    echo.client.get("/", headers={"traceparent": TRACEPARENT})
    assert TRACE not in echo.exchange_line()


def test_no_bare_trace_id_while_the_project_is_unknown(echo: Echo) -> None:
    record = echo.client.get("/", headers={"traceparent": TRACEPARENT}).json
    line = echo.exchange_line()
    assert TRACE not in line  # a bare id correlates with nothing in Cloud Logging
    assert line[SPAN] == record["trace"]["span_id"]
    assert line["request"]["trace"]["trace_id"] == TRACE_ID


def test_no_trace_fields_when_tracing_is_disabled(make_echo: MakeEcho) -> None:
    echo = make_echo({"OTEL_SDK_DISABLED": "true"})
    echo.client.get("/", headers={"traceparent": TRACEPARENT})
    line = echo.exchange_line()
    assert TRACE not in line and SPAN not in line
    assert line["request"]["trace"] is None


def test_labels_name_the_service_and_revision(make_echo: MakeEcho) -> None:
    echo = make_echo({"K_SERVICE": "svc", "K_REVISION": "svc-00001"})
    record = echo.client.get("/").json
    labels = echo.exchange_line()["logging.googleapis.com/labels"]
    assert labels["service"] == "svc"
    assert labels["revision"] == "svc-00001"
    assert labels["instance"] == record["server"]["instance"]


# --- redaction -------------------------------------------------------------------------


@pytest.mark.parametrize("header", DEFAULT_REDACTED_HEADERS)
def test_default_redacted_header_is_redacted_in_the_log(echo: Echo, header: str) -> None:
    echo.client.get("/", headers={header: "name=s3cr3t-value"})
    line = echo.exchange_line()
    (key,) = [name for name in line["request"]["headers"] if name.lower() == header.lower()]
    assert line["request"]["headers"][key] == "[REDACTED]"
    assert b"s3cr3t-value" not in echo.stream.getvalue()


def test_redacted_header_still_echoed_to_the_caller(echo: Echo) -> None:
    response = echo.client.get("/", headers={"Authorization": "Bearer mine"})
    assert response.json["headers"]["Authorization"] == "Bearer mine"


def test_redact_headers_setting_replaces_the_defaults(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_REDACT_HEADERS": "X-Custom-Secret"})
    echo.client.get("/", headers={"x-custom-secret": "hidden", "Authorization": "visible"})
    headers = echo.exchange_line()["request"]["headers"]
    assert headers["X-Custom-Secret"] == "[REDACTED]"
    assert headers["Authorization"] == "visible"


def test_every_cookie_value_is_redacted(echo: Echo) -> None:
    response = echo.client.get("/", headers={"Cookie": "session=abc123; theme=dark"})
    assert response.json["cookies"] == {"session": "abc123", "theme": "dark"}
    line = echo.exchange_line()
    assert line["request"]["cookies"] == {"session": "[REDACTED]", "theme": "[REDACTED]"}
    assert b"abc123" not in echo.stream.getvalue()


def test_nameless_cookie_value_is_not_logged(echo: Echo) -> None:
    # A cookie set without a name (`Set-Cookie: s3cr3t`) comes back as `Cookie: s3cr3t`.
    echo.client.get("/", headers={"Cookie": "s3cr3t-nameless; theme=dark"})
    assert b"s3cr3t-nameless" not in echo.stream.getvalue()


def test_response_set_cookie_is_redacted(echo: Echo) -> None:
    echo.client.get("/")
    assert echo.exchange_line()["response"]["headers"]["Set-Cookie"] == "[REDACTED]"


@pytest.mark.parametrize("name", ["token", "TOKEN", "access_token", "api_key", "sig", "password"])
def test_redacted_query_parameter_everywhere_in_the_line(echo: Echo, name: str) -> None:
    response = echo.client.get(f"/path?{name}=s3cr3t-q&keep=1")
    assert response.json["args"][name] == "s3cr3t-q"
    line = echo.exchange_line()
    request = line["request"]
    assert request["args"] == {name: "[REDACTED]", "keep": "1"}
    assert request["query_string"] == f"{name}=[REDACTED]&keep=1"
    assert request["url"] == f"http://localhost/path?{name}=[REDACTED]&keep=1"
    assert line["httpRequest"]["requestUrl"] == request["url"]
    assert b"s3cr3t-q" not in echo.stream.getvalue()


def test_repeated_redacted_query_parameter(echo: Echo) -> None:
    echo.client.get("/path?token=s3cr3t-1&token=s3cr3t-2")
    request = echo.exchange_line()["request"]
    assert request["query_string"] == "token=[REDACTED]&token=[REDACTED]"
    assert request["args"]["token"] == "[REDACTED]"
    assert b"s3cr3t-" not in echo.stream.getvalue()


def test_percent_encoded_query_name_is_redacted(echo: Echo) -> None:
    echo.client.get("/path?%74oken=s3cr3t-q")
    assert b"s3cr3t-q" not in echo.stream.getvalue()


def test_redact_query_setting(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_REDACT_QUERY": "pin"})
    echo.client.get("/path?pin=1234&token=visible")
    assert echo.exchange_line()["request"]["args"] == {"pin": "[REDACTED]", "token": "visible"}


def test_redacted_values_stay_out_of_the_logged_response_body(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_LOG_ECHO_BODY": "copy"})
    response = echo.client.get("/status/201?token=s3cr3t-q", headers={"Authorization": "s3cr3t-h"})
    assert b"s3cr3t-q" in response.data and b"s3cr3t-h" in response.data
    body = json.loads(echo.exchange_line()["response"]["body"])
    assert body["args"]["token"] == "[REDACTED]"
    assert body["headers"]["Authorization"] == "[REDACTED]"


def test_redacted_values_stay_out_of_an_error_line(echo: Echo) -> None:
    echo.client.get("/status/abc?token=s3cr3t-q", headers={"X-Api-Key": "s3cr3t-h"})
    raw = echo.stream.getvalue()
    assert b"s3cr3t-q" not in raw and b"s3cr3t-h" not in raw


# --- body limit --------------------------------------------------------------------------


def test_body_is_truncated_to_the_log_limit(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_LOG_BODY_BYTES": "16", "ECHO_LOG_ECHO_BODY": "copy"})
    echo.client.post("/path", data="a" * 100)
    line = echo.exchange_line()
    assert line["request"]["data"] == "a" * 16
    assert line["request"]["truncated"] is True
    assert line["request"]["body_size"] == 100
    assert len(line["response"]["body"].encode()) <= 16
    assert line["response"]["truncated"] is True
    assert line["response"]["body_size"] > 100


def test_truncation_counts_bytes_not_characters(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_LOG_BODY_BYTES": "16"})
    echo.client.post("/path", data="é" * 50, content_type="text/plain; charset=utf-8")
    request = echo.exchange_line()["request"]
    assert request["truncated"] is True
    assert len(request["data"].encode("utf-8")) <= 16


def test_truncated_json_body_is_not_logged_parsed(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_LOG_BODY_BYTES": "8"})
    response = echo.client.post("/path", json={"key": "a long enough value"})
    assert response.json["json"] == {"key": "a long enough value"}
    assert echo.exchange_line()["request"]["json"] is None


def test_body_within_the_limit_is_whole(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_LOG_BODY_BYTES": "16"})
    echo.client.post("/path", data="a" * 16)
    request = echo.exchange_line()["request"]
    assert request["data"] == "a" * 16
    assert "truncated" not in request


def test_zero_log_body_bytes_logs_no_body(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_LOG_BODY_BYTES": "0", "ECHO_LOG_ECHO_BODY": "copy"})
    echo.client.post("/path", data="private")
    line = echo.exchange_line()
    assert line["request"]["data"] == ""
    assert line["response"]["body"] == ""
    assert b"private" not in echo.stream.getvalue()


# --- formats and hostile input -----------------------------------------------------------


def test_console_format_writes_human_lines(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_LOG_FORMAT": "console"})
    echo.client.get("/some/path?token=s3cr3t-q")
    text = echo.stream.getvalue().decode()
    assert text.count("\n") == 1
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert "GET /some/path 200" in text
    assert "s3cr3t-q" not in text


def test_console_line_leads_with_the_message(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_LOG_FORMAT": "console"})
    echo.client.get("/some/path")
    text = echo.stream.getvalue().decode()
    assert text.index("GET /some/path 200") < text.index("httpRequest")


HOSTILE = [
    ("header quote and backslash", {"headers": {"X-Evil": 'a"b\\c\'d{}'}}),
    ("header raw utf-8 bytes of U+2028", {"headers": {"X-Evil": "\u2028".encode().decode("latin-1")}}),
    ("query newline, quote, U+2028", {"query_string": "q=%22%0A%0D%E2%80%A8%00"}),
    ("json body with newlines", {"data": '{"k": "line1\\nline2\u2028\u2029"}', "content_type": "application/json"}),
    ("text body with raw newlines", {"data": "line1\nline2\r\n\u2028}", "content_type": "text/plain"}),
    ("binary body", {"data": b"\x00\n\xff\x1b[31m", "content_type": "application/octet-stream"}),
    ("json nested 300 deep", {"data": "[" * 300 + "]" * 300, "content_type": "application/json"}),
]  # fmt: skip


@pytest.mark.parametrize("kwargs", [case[1] for case in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_input_gives_exactly_one_valid_json_line(echo: Echo, kwargs: dict) -> None:  # type: ignore[type-arg]
    response = echo.client.post("/path", **kwargs)
    assert response.status_code == 200
    (raw,) = echo.raw_lines()
    line = json.loads(raw)
    assert line["request"]["uuid"] == response.json["uuid"]
    assert line["request"]["args"] == response.json["args"]
    assert line["request"]["data"] == response.json["data"]


# --- stdlib records and the gunicorn logging config -----------------------------------------


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put back the loggers dictConfig touches."""
    names = ["", "gunicorn.error", "gunicorn.access"]
    saved = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).level,
               logging.getLogger(name).propagate, logging.getLogger(name).disabled)
        for name in names
    }  # fmt: skip
    yield
    for name, (handlers, level, propagate, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate, logger.disabled = propagate, disabled


def _configured_stream(settings: Settings) -> io.StringIO:
    logging.config.dictConfig(logconfig.logconfig_dict(settings))
    stream = io.StringIO()
    (handler,) = logging.getLogger("gunicorn.error").handlers
    handler.setStream(stream)  # type: ignore[attr-defined]
    return stream


@pytest.mark.usefixtures("restored_logging")
def test_logconfig_dict_renders_stdlib_records_as_json_lines() -> None:
    stream = _configured_stream(Settings())
    logging.getLogger("gunicorn.error").warning("Worker %s booted", 42)
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["severity"] == "WARNING"
    assert record["message"] == "Worker 42 booted"
    assert record["logger"] == "gunicorn.error"
    assert record["time"].endswith("Z")


@pytest.mark.usefixtures("restored_logging")
def test_logconfig_dict_routes_library_records_through_the_root() -> None:
    stream = _configured_stream(Settings())
    logging.getLogger("some.library").error("it broke: %r", "x\ny")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert (record["severity"], record["logger"]) == ("ERROR", "some.library")
    assert record["message"] == "it broke: 'x\\ny'"


@pytest.mark.usefixtures("restored_logging")
def test_logconfig_dict_silences_the_access_log_and_honours_the_level() -> None:
    stream = _configured_stream(Settings(log_level="WARNING"))
    logging.getLogger("gunicorn.access").critical("GET / 200")
    logging.getLogger("gunicorn.error").info("not at WARNING")
    assert stream.getvalue() == ""


@pytest.mark.usefixtures("restored_logging")
def test_logconfig_dict_renders_an_exception_as_a_stack_trace() -> None:
    stream = _configured_stream(Settings())
    try:
        raise ValueError("bad thing")
    except ValueError:
        logging.getLogger("gunicorn.error").exception("handling failed")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["severity"] == "ERROR"
    assert record["stack_trace"].startswith("Traceback (most recent call last):")
    assert record["stack_trace"].rstrip().endswith("ValueError: bad thing")
    assert record["error_type"] == "ValueError"


def test_stdlib_record_inside_a_request_carries_its_trace(echo: Echo) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logconfig.stdlib_formatter("json"))
    logger = logging.getLogger("tests.unit.inside")
    logger.addHandler(handler)
    logger.propagate = False

    def noisy() -> str:
        logger.warning("from inside")
        return "ok"

    echo.app.add_url_rule("/noisy", "noisy", noisy)
    try:
        echo.client.get("/noisy", headers={"traceparent": TRACEPARENT})
    finally:
        logger.removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert TRACE not in record  # no project known in this test
    assert record[SPAN] == echo.exchange_line()[SPAN]
    assert record["uuid"] == echo.exchange_line()["uuid"]


def test_structlog_line_inside_a_request_carries_its_trace(echo: Echo) -> None:
    def noisy() -> str:
        structlog.get_logger("tests").warning("from inside", detail=1)
        return "ok"

    echo.app.add_url_rule("/noisy", "noisy", noisy)
    echo.client.get("/noisy", headers={"traceparent": TRACEPARENT})
    inner, exchange_line = echo.lines()
    assert (inner["message"], inner["severity"], inner["detail"]) == ("from inside", "WARNING", 1)
    assert inner[SPAN] == exchange_line[SPAN]
    assert inner["uuid"] == exchange_line["uuid"]


# --- OncePerInterval ---------------------------------------------------------------------


def _record(name: str, msg: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, None, None)


def test_once_per_interval_holds_back_repeats() -> None:
    gate = logconfig.OncePerInterval("opentelemetry", 60)
    name = "opentelemetry.exporter.otlp"
    assert gate.filter(_record(name, "export failed"))
    assert not gate.filter(_record(name, "export failed"))
    assert not gate.filter(_record(name, "export failed"))


def test_once_per_interval_holds_every_opentelemetry_logger_together() -> None:
    # three exporters failing at once still make one line per interval
    gate = logconfig.OncePerInterval("opentelemetry", 30)
    assert gate.filter(_record("opentelemetry.exporter.otlp.proto.http.trace_exporter", "a"))
    assert not gate.filter(_record("opentelemetry.exporter.otlp.proto.http.metric_exporter", "b"))
    assert not gate.filter(_record("opentelemetry.sdk._logs", "c"))
    assert all(gate.filter(_record("gunicorn.error", "a")) for _ in range(3))


def test_once_per_interval_releases_with_a_count(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(logconfig.time, "monotonic", lambda: clock[0])
    gate = logconfig.OncePerInterval("opentelemetry", 60)
    assert gate.filter(_record("opentelemetry.sdk", "export failed"))
    assert not gate.filter(_record("opentelemetry.sdk", "export failed"))
    assert not gate.filter(_record("opentelemetry.sdk", "export failed"))
    clock[0] += 61
    released = _record("opentelemetry.sdk", "export failed")
    assert gate.filter(released)
    assert "2 similar lines held back" in released.getMessage()


def test_logconfig_dict_applies_the_rate_filter_to_opentelemetry() -> None:
    config = logconfig.logconfig_dict(Settings())
    assert "otel_rate" in config["handlers"]["stdout"]["filters"]
    assert config["filters"]["otel_rate"]["prefix"] == "opentelemetry"


def test_an_iap_assertion_repeated_by_a_response_stays_out_of_the_log(echo: Echo) -> None:
    assertion = "not-a-jwt-but-an-iap-assertion-0123456789"
    response = echo.client.get("/headers", headers={"X-Goog-Iap-Jwt-Assertion": assertion})
    assert assertion in response.get_data(as_text=True)  # the caller sees it
    assert assertion.encode() not in echo.stream.getvalue()


def test_a_bearer_token_stays_out_of_the_log_even_when_authorization_is_not_listed(
    make_echo: MakeEcho,
) -> None:
    echo = make_echo({"ECHO_REDACT_HEADERS": "cookie"})
    echo.client.get("/bearer", headers={"Authorization": "Bearer opaque-token-0123456789"})
    echo.client.get("/headers", headers={"Authorization": "Bearer opaque-token-0123456789"})
    assert b"opaque-token-0123456789" not in echo.stream.getvalue()


def test_short_cookie_values_do_not_corrupt_the_logged_body(make_echo: MakeEcho) -> None:
    echo = make_echo({"ECHO_LOG_BODY_BYTES": "65536"})
    echo.client.post("/post", json={"ok": True, "n": 1}, headers={"Cookie": "consent=true; n=1"})
    logged = json.loads(echo.exchange_line()["response"]["body"])  # still valid JSON
    assert logged["json"] == {"ok": True, "n": 1}


def test_a_redacted_query_value_repeated_in_a_response_header_stays_out_of_the_log(
    echo: Echo,
) -> None:
    response = echo.client.get("/response-headers?token=query-secret-0123456789")
    assert response.headers["token"] == "query-secret-0123456789"  # the caller sees it
    assert b"query-secret-0123456789" not in echo.stream.getvalue()
    assert echo.exchange_line()["response"]["headers"]["token"] == "[REDACTED]"


def test_response_headers_without_the_callers_secrets_are_logged_as_sent(echo: Echo) -> None:
    echo.client.get("/response-headers?X-Plain=visible-value-42", headers={"Cookie": "s=abcdefgh"})
    assert echo.exchange_line()["response"]["headers"]["X-Plain"] == "visible-value-42"


def test_header_rules_stay_right_past_the_remembered_plain_names() -> None:
    rules = logparts.HeaderRules(Settings.from_env({}))
    for index in range(rules.MAX_PLAIN + 50):  # a client inventing header names
        rules.request({f"X-Made-Up-{index}": "v"}, {}, [])
    found: list[str] = []
    headers = {"X-Made-Up-1": "v", "X-Made-Up-5000": "w", "Authorization": "Bearer tok-0123456"}
    logged = rules.request(headers, {}, found)
    assert logged == {"X-Made-Up-1": "v", "X-Made-Up-5000": "w", "Authorization": "[REDACTED]"}
    assert "tok-0123456" in found
    assert len(rules._plain) == rules.MAX_PLAIN
