"""Nothing lost under load: N concurrent requests give N answers, N lines, N counts and N spans.

Two gunicorn workers (multiprocess metrics) and a real OTLP receiver. Every
request carries its own traceparent, so each answer, exchange line and span
can be matched one to one, and the duration histogram's _count must grow by
exactly N for the route used.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support.otlp import OtlpReceiver
from tests.support.server import Server

REQUESTS = 1200
THREADS = 32
RECONNECT_EVERY = 5
ROUTE = "/anything/<path:path>"
SERVER_KIND = 2
_COUNT_LINE = re.compile(r"^http_server_request_duration_seconds_count\{([^}]*)\} (\S+)$", re.M)


@pytest.fixture(scope="module")
def busy(receiver: OtlpReceiver, make_module_server: MakeServer) -> Server:
    signals = ("traces", "metrics", "logs")  # all three exporters on: one of each per exchange
    return make_module_server({**receiver.env(signals=signals), "ECHO_THREADS": "8"}, workers=2)


def duration_count(server: Server, route: str) -> float:
    """The sum over every series of http_server_request_duration_seconds_count for `route`."""
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    return sum(
        float(value)
        for labels, value in _COUNT_LINE.findall(text)
        if f'http_route="{route}"' in labels
    )


def test_every_request_is_answered_logged_counted_and_traced(
    busy: Server, receiver: OtlpReceiver
) -> None:
    count_before = duration_count(busy, ROUTE)
    trace_ids = [secrets.token_hex(16) for _ in range(REQUESTS)]
    sessions = threading.local()

    def call(index: int) -> tuple[int, str, str]:
        session = getattr(sessions, "session", None)
        if session is None:
            session = sessions.session = requests.Session()
        headers = {"traceparent": f"00-{trace_ids[index]}-{secrets.token_hex(8)}-01"}
        if index % RECONNECT_EVERY == 0:
            headers["Connection"] = "close"  # new connections spread over both workers
        response = session.get(f"{busy.url}/anything/load/{index}", headers=headers, timeout=30)
        return (
            response.status_code,
            response.headers.get("X-Request-Id", ""),
            response.json()["trace"]["trace_id"],
        )

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(call, range(REQUESTS)))

    statuses = Counter(status for status, _, _ in results)
    request_ids = {request_id for _, request_id, _ in results}
    assert statuses == {200: REQUESTS}, statuses
    assert len(request_ids) == REQUESTS and "" not in request_ids
    assert [trace for _, _, trace in results] == trace_ids  # each answer continued its own trace

    lines = busy.wait_for_lines(
        lambda line: line.get("uuid") in request_ids and "httpRequest" in line, REQUESTS, timeout=30
    )
    logged = Counter(line["uuid"] for line in lines)
    assert set(logged) == request_ids and set(logged.values()) == {1}

    count_after = duration_count(busy, ROUTE)

    wanted = set(trace_ids)
    deadline = time.monotonic() + 30
    spans: list[object] = []
    while time.monotonic() < deadline:
        spans = [s for s in list(receiver.spans) if s.kind == SERVER_KIND and s.trace_id in wanted]
        if len(spans) >= REQUESTS:
            break
        time.sleep(0.1)
    time.sleep(0.5)  # a duplicate export would arrive now
    spans = [s for s in list(receiver.spans) if s.kind == SERVER_KIND and s.trace_id in wanted]
    per_trace = Counter(s.trace_id for s in spans)  # type: ignore[attr-defined]

    per_worker = Counter(line["request"]["server"]["instance"] for line in lines)
    print(
        f"\naccounting: requests={REQUESTS} 2xx={statuses[200]} exchange_lines={len(lines)} "
        f"duration_count_delta={count_after - count_before:g} server_spans={len(spans)} "
        f"threads={THREADS} requests_per_worker={sorted(per_worker.values())}"
    )
    assert count_after - count_before == REQUESTS
    assert len(spans) == REQUESTS and set(per_trace) == wanted and set(per_trace.values()) == {1}
    assert {s.name for s in spans} == {f"GET {ROUTE}"}  # type: ignore[attr-defined]
    # Both workers served: the counts above were summed across processes.
    assert len(per_worker) == 2, per_worker
    _one_log_record_and_one_data_point_each(receiver, spans, REQUESTS)


def _one_log_record_and_one_data_point_each(
    receiver: OtlpReceiver, spans: list[Any], requests_made: int
) -> None:
    """The OTLP log records and histogram of the same exchanges: one of each per exchange."""
    span_ids = {span.trace_id: span.span_id for span in spans}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        records = [
            record
            for record in list(receiver.logs)
            if record.trace_id in span_ids and "http.response.status_code" in record.attributes
        ]
        counted = sum(
            point.count
            for point in receiver.latest_points("http.server.request.duration")
            if point.attributes.get("http.route") == ROUTE
        )
        if len(records) >= requests_made and counted >= requests_made:
            break
        time.sleep(0.2)
    time.sleep(1)  # a duplicate record, or one more export, would arrive now
    records = [
        r
        for r in list(receiver.logs)
        if r.trace_id in span_ids and r.attributes.get("http.route") == ROUTE
    ]
    per_trace = Counter(record.trace_id for record in records)
    assert set(per_trace) == set(span_ids) and set(per_trace.values()) == {1}
    assert all(record.span_id == span_ids[record.trace_id] for record in records)
    points = receiver.latest_points("http.server.request.duration")
    instances = {
        p.resource["service.instance.id"] for p in points if p.attributes.get("http.route") == ROUTE
    }
    assert len(instances) == 2  # each worker pushed its own series
    assert sum(p.count for p in points if p.attributes.get("http.route") == ROUTE) == requests_made
