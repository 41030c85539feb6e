"""Every httpbin endpoint is an ordinary echoscope route: one exchange line, its own metric series.

And what a response body repeats of the request's secrets never reaches the log.
"""

from __future__ import annotations

import re
import time

import requests

from service.app import create_app
from service.settings import Settings
from tests.support.server import Server

# (method, path sent, route template): one request per httpbin rule.
CALLS = [
    ("GET", "/get", "/get"), ("POST", "/post", "/post"), ("PUT", "/put", "/put"),
    ("PATCH", "/patch", "/patch"), ("DELETE", "/delete", "/delete"), ("GET", "/headers", "/headers"),
    ("GET", "/ip", "/ip"), ("GET", "/user-agent", "/user-agent"), ("GET", "/uuid", "/uuid"),
    ("GET", "/hostname", "/hostname"), ("GET", "/dump/request", "/dump/request"),
    ("POST", "/upload", "/upload"), ("GET", "/trailers", "/trailers"),
    ("GET", "/cookies", "/cookies"), ("GET", "/cookies/set?a=b", "/cookies/set"),
    ("GET", "/cookies/set/a/b", "/cookies/set/<name>/<value>"),
    ("GET", "/cookies/delete?a", "/cookies/delete"),
    ("GET", "/basic-auth/u/p", "/basic-auth/<user>/<passwd>"),
    ("GET", "/hidden-basic-auth/u/p", "/hidden-basic-auth/<user>/<passwd>"),
    ("GET", "/bearer", "/bearer"), ("GET", "/digest-auth/auth/u/p", "/digest-auth/<qop>/<user>/<passwd>"),
    ("GET", "/digest-auth/auth/u/p/MD5", "/digest-auth/<qop>/<user>/<passwd>/<algorithm>"),
    ("GET", "/digest-auth/auth/u/p/MD5/3", "/digest-auth/<qop>/<user>/<passwd>/<algorithm>/<stale_after>"),
    ("GET", "/redirect/2", "/redirect/<n>"), ("GET", "/relative-redirect/2", "/relative-redirect/<n>"),
    ("GET", "/absolute-redirect/2", "/absolute-redirect/<n>"), ("GET", "/redirect-to?url=/get", "/redirect-to"),
    ("GET", "/gzip", "/gzip"), ("GET", "/deflate", "/deflate"), ("GET", "/brotli", "/brotli"),
    ("GET", "/html", "/html"), ("GET", "/xml", "/xml"), ("GET", "/json", "/json"),
    ("GET", "/robots.txt", "/robots.txt"), ("GET", "/deny", "/deny"), ("GET", "/encoding/utf8", "/encoding/utf8"),
    ("GET", "/forms/post", "/forms/post"), ("GET", "/links/3", "/links/<n>"),
    ("GET", "/links/3/1", "/links/<n>/<offset>"), ("GET", "/image", "/image"),
    ("GET", "/image/png", "/image/png"), ("GET", "/image/jpeg", "/image/jpeg"),
    ("GET", "/image/webp", "/image/webp"), ("GET", "/image/svg", "/image/svg"),
    ("GET", "/etag/x", "/etag/<etag>"), ("GET", "/cache", "/cache"), ("GET", "/cache/5", "/cache/<n>"),
    ("GET", "/base64/aGk", "/base64/<value>"), ("GET", "/base64/encode/hi", "/base64/<operation>/<value>"),
    ("GET", "/response-headers?a=b", "/response-headers"), ("GET", "/bytes/8", "/bytes/<n>"),
    ("GET", "/stream-bytes/8", "/stream-bytes/<n>"), ("GET", "/unstable?failure_rate=0", "/unstable"),
    ("GET", "/stream/2", "/stream/<n>"), ("GET", "/drip?duration=0&numbytes=2", "/drip"),
    ("GET", "/sse?count=2&duration=10ms", "/sse"), ("GET", "/range/10", "/range/<n>"),
    ("HEAD", "/head", "/head"), ("GET", "/env", "/env"), ("GET", "/version", "/version"),
    ("GET", "/jsonl?count=2", "/jsonl"),
]  # fmt: skip
HTTPBIN_MODULES = re.compile(r"^httpbin_")


def test_the_calls_cover_every_httpbin_rule() -> None:
    app = create_app(Settings())
    rules = {rule.rule for rule in app.url_map.iter_rules() if HTTPBIN_MODULES.match(rule.endpoint)}
    assert rules == {route for _, _, route in CALLS}


def test_every_endpoint_logs_one_exchange_line_and_counts_under_its_route(httpbin: Server) -> None:
    ids = {}
    for method, path, route in CALLS:
        response = requests.request(method, httpbin.url + path, allow_redirects=False, timeout=5)
        assert response.status_code < 500, (path, response.status_code)
        ids[response.headers["X-Request-Id"]] = (method, path, route)
    httpbin.wait_for_lines(lambda line: line.get("uuid") in ids and "httpRequest" in line, len(ids))
    time.sleep(0.2)
    lines = [line for line in httpbin.exchange_lines() if line.get("uuid") in ids]
    assert sorted(line["uuid"] for line in lines) == sorted(ids)  # one line each
    metrics = requests.get(f"{httpbin.url}/metrics", timeout=5).text
    for method, _, route in ids.values():
        series = re.compile(
            r"^http_server_request_duration_seconds_count\{[^}]*"
            rf'http_request_method="{method}",[^}}]*http_route="{re.escape(route)}"',
            re.MULTILINE,
        )
        assert series.search(metrics), route


def test_secrets_a_response_repeats_are_not_logged(httpbin: Server) -> None:
    sent = [
        requests.get(
            f"{httpbin.url}/bearer", headers={"Authorization": "Bearer tok-s3cr3t-1"}, timeout=5
        ),
        requests.get(
            f"{httpbin.url}/headers", headers={"Authorization": "Basic dXNyOnMzY3IzdA=="}, timeout=5
        ),
        requests.get(f"{httpbin.url}/cookies", cookies={"session": "ck-s3cr3t-2"}, timeout=5),
        requests.get(f"{httpbin.url}/get?token=q-s3cr3t-3", timeout=5),
        requests.get(f"{httpbin.url}/response-headers?token=q-s3cr3t-4", timeout=5),
        requests.get(f"{httpbin.url}/dump/request", headers={"X-Api-Key": "k-s3cr3t-5"}, timeout=5),
        requests.get(
            f"{httpbin.url}/stream/1", headers={"Authorization": "Bearer st-s3cr3t-6"}, timeout=5
        ),
    ]
    assert b"tok-s3cr3t-1" in sent[0].content and b"ck-s3cr3t-2" in sent[2].content  # answered
    for response in sent:
        httpbin.line_for(response.headers["X-Request-Id"])
    logged = httpbin.output()
    for secret in ("tok-s3cr3t-1", "dXNyOnMzY3IzdA==", "ck-s3cr3t-2", "q-s3cr3t-3", "q-s3cr3t-4",
                   "k-s3cr3t-5", "st-s3cr3t-6"):  # fmt: skip
        assert secret not in logged, secret
