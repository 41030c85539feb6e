"""Copy as curl and HAR from stored entries: quoting, redaction notes, the HAR 1.2 shape."""

from __future__ import annotations

import shlex
from typing import Any

from service.inspector import export
from tests.support import har

ENTRY: dict[str, Any] = {
    "uuid": "a" * 32,
    "time": "2026-05-01T10:00:00.250+00:00",
    "latency_ms": 250.0,
    "message": "PUT /x 599 250.0ms",
    "trace_id": None,
    "span_id": None,
    "httpRequest": {"protocol": None},
    "request": {
        "method": "PUT",
        "url": "http://h/x?token=[REDACTED]&a=1",
        "query_string": "token=[REDACTED]&a=1",
        "headers": {"Host": "h", "Content-Length": "3", "X-Empty": "", "X-Q": "a'b\"c$(d)",
                    "Cookie": "[REDACTED]", ":authority": "h"},
        "cookies": {"sid": "[REDACTED]"},
        "data": "AAEC", "data_encoding": "base64", "body_size": 3,
    },
    "response": {"status": 599, "headers": {}, "body_size": 0},
}  # fmt: skip


def test_curl_quotes_and_notes() -> None:
    command = export.curl(ENTRY)
    comments = [line for line in command.splitlines() if line.startswith("#")]
    assert comments[1] == (
        "# redacted by echoscope, sent as [REDACTED]: header Cookie, query token, cookie sid"
    )
    line = command.split("\n", 2)[2].replace("\\\n", "")
    pipeline, curl = line.split(" | curl ", 1)
    assert shlex.split(pipeline) == ["printf", "%s", "AAEC", "|", "base64", "-d"]
    words = shlex.split("curl " + curl)
    assert words[:4] == ["curl", "--globoff", "--path-as-is", "http://h/x?token=[REDACTED]&a=1"]
    assert words[4:6] == ["--request", "PUT"]
    headers = [words[i + 1] for i, word in enumerate(words) if word == "--header"]
    assert headers == ["X-Empty;", "X-Q: a'b\"c$(d)", "Cookie: [REDACTED]"]
    assert words[-2:] == ["--data-binary", "@-"]


def test_har_of_odd_entries_keeps_the_shape() -> None:
    document = export.har([ENTRY, {**ENTRY, "request": {**ENTRY["request"], "body_size": None}}])
    har.validate(document)
    entry = document["log"]["entries"][0]
    assert entry["startedDateTime"] == "2026-05-01T10:00:00.000+00:00"
    assert entry["response"]["statusText"] == "" and entry["request"]["httpVersion"] == "HTTP/1.1"
    assert document["log"]["entries"][1]["request"]["bodySize"] == -1
