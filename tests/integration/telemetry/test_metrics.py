"""The metrics of a real gunicorn, with one worker and with two."""

from __future__ import annotations

import random

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support.constants import TRACE_ID, TRACEPARENT
from tests.support.prom import DURATION, scrape, series, total
from tests.support.server import Server

ROUTE = "/anything/<path:path>"


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def metered(request: pytest.FixtureRequest, make_module_server: MakeServer) -> Server:
    return make_module_server(workers=request.param)


def _count(server: Server, **labels: str) -> float:
    return total(scrape(server.url), f"{DURATION}_count", **labels)


def test_count_grows_by_exactly_n(metered: Server) -> None:
    before = _count(metered, http_route=ROUTE)
    with requests.Session() as session:
        for n in range(37):
            assert session.get(f"{metered.url}/anything/{n}").status_code == 200
    # Whichever worker answers the scrape reports every worker's requests.
    for _ in range(4):
        assert _count(metered, http_route=ROUTE) - before == 37


def test_labels_are_the_route_template_and_the_status(metered: Server) -> None:
    requests.post(f"{metered.url}/status/418")
    samples = scrape(metered.url)
    assert (
        total(
            samples,
            f"{DURATION}_count",
            http_request_method="POST",
            http_route="/status/<code>",
            http_response_status_code="418",
        )
        >= 1
    )
    assert not [s for s in samples if s.labels.get("http_route", "").startswith("/status/4")]


def test_series_stay_bounded_whatever_clients_send(metered: Server) -> None:
    rng = random.Random(7)
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "FOO", "BAR", "PROPFIND", "PURGE", "XYZ"]
    requests.get(f"{metered.url}/warmup/{rng.random()}")
    before = series(scrape(metered.url), "http_server_")
    with requests.Session() as session:
        for _ in range(300):
            path = "/".join(str(rng.randrange(10**9)) for _ in range(rng.randrange(1, 4)))
            session.request(rng.choice(methods), f"{metered.url}/{path}?v={rng.random()}")
    after = series(scrape(metered.url), "http_server_")
    added = after - before
    routes = {dict(labels).get("http_route") for _, labels in after}
    methods_seen = {dict(labels).get("http_request_method") for _, labels in after}
    assert not any(route and route.startswith("/") and route[1:2].isdigit() for route in routes)
    assert {"FOO", "BAR", "XYZ", "PURGE"}.isdisjoint(methods_seen) and "_OTHER" in methods_seen
    # 3 histograms x (14 or 11 buckets + inf + sum + count + created) for at most 6 new method labels
    assert len(added) <= 6 * 3 * 20


def test_active_requests_and_build_info(metered: Server) -> None:
    samples = scrape(metered.url)
    # The scrape itself is the one active GET request.
    assert total(samples, "http_server_active_requests", http_request_method="GET") == 1
    assert total(samples, "http_server_active_requests", http_request_method="POST") == 0
    build = [s for s in samples if s.name == "echoscope_build_info"]
    assert len(build) == 1 and build[0].value == 1
    assert set(build[0].labels) == {"version", "python_version", "revision"}


def test_buckets_are_the_semconv_ones(metered: Server) -> None:
    requests.get(f"{metered.url}/anything/b")
    bounds = {
        s.labels["le"]
        for s in scrape(metered.url)
        if s.name == f"{DURATION}_bucket" and s.labels["http_route"] == ROUTE
    }
    assert bounds == {
        "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75",
        "1.0", "2.5", "5.0", "7.5", "10.0", "+Inf",
    }  # fmt: skip


def test_body_size_histograms(metered: Server) -> None:
    before = total(scrape(metered.url), "http_server_request_body_size_bytes_sum", http_route=ROUTE)
    requests.post(f"{metered.url}/anything/size", data=b"x" * 1000)
    samples = scrape(metered.url)
    assert (
        total(samples, "http_server_request_body_size_bytes_sum", http_route=ROUTE) - before == 1000
    )
    assert total(samples, "http_server_response_body_size_bytes_count", http_route=ROUTE) >= 1


def test_openmetrics_negotiation_with_exemplars(make_server: MakeServer) -> None:
    server = make_server()
    response = requests.get(f"{server.url}/anything/ex", headers={"traceparent": TRACEPARENT})
    span_id = response.json()["trace"]["span_id"]
    plain = requests.get(f"{server.url}/metrics")
    assert plain.headers["Content-Type"].startswith("text/plain")
    assert "# EOF" not in plain.text and "process_cpu_seconds_total" in plain.text
    om = requests.get(
        f"{server.url}/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
    )
    assert om.headers["Content-Type"].startswith("application/openmetrics-text")
    assert om.text.rstrip().endswith("# EOF")
    exemplar = f'# {{span_id="{span_id}",trace_id="{TRACE_ID}"}}'
    assert any(
        line.startswith(f"{DURATION}_bucket") and exemplar in line for line in om.text.splitlines()
    )


def test_two_workers_stay_correct_after_a_worker_is_killed(make_server: MakeServer) -> None:
    server = make_server(workers=2)
    with requests.Session() as session:
        for n in range(40):
            session.get(f"{server.url}/anything/k{n}", headers={"Connection": "close"})
    assert _count(server, http_route=ROUTE) == 40
    server.kill_worker(server.worker_pids()[0])
    for n in range(10):
        requests.get(f"{server.url}/anything/after{n}", headers={"Connection": "close"})
    for _ in range(4):
        samples = scrape(server.url)
        assert total(samples, f"{DURATION}_count", http_route=ROUTE) == 50
        assert total(samples, "http_server_active_requests") == 1  # only this scrape
