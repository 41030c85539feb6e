"""Faults around echoscope: a dead or stuck collector, a killed worker, a missing metadata server."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support.otlp import OtlpReceiver
from tests.support.server import Server, free_port

GRACE_SECONDS = 10
_COUNT_LINE = re.compile(r"^http_server_request_duration_seconds_count\{([^}]*)\} (\S+)$", re.M)
_ACTIVE = re.compile(r"^http_server_active_requests\{[^}]*\} (\S+)$", re.M)


def _otel_lines(server: Server) -> list[dict[str, Any]]:
    return [
        line
        for line in server.json_lines()
        if str(line.get("logger", "")).startswith("opentelemetry")
    ]


class SilentListener:
    """A TCP port that accepts connections and never answers (a black-holed endpoint)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        self._sock.close()
        for conn in self._held:
            conn.close()


# ---------------------------------------------------------------- the collector is dead or stuck


@pytest.fixture(params=["closed-port", "closed-port-grpc", "hanging"])
def broken_collector(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """All three signals exported to a closed port, or to a receiver that never answers."""
    signals = ("traces", "metrics", "logs")
    if request.param == "hanging":
        receiver = OtlpReceiver(hang=True)
        yield receiver.env(signals=signals)
        receiver.close()
    else:
        protocol = "grpc" if request.param.endswith("grpc") else "http/protobuf"
        yield {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "prometheus,otlp",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_BLRP_SCHEDULE_DELAY": "100",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
        }


def test_a_broken_collector_fails_no_request_and_floods_no_log(
    broken_collector: dict[str, str], make_server: MakeServer
) -> None:
    server = make_server(broken_collector)
    statuses = []
    with requests.Session() as session:
        for index in range(400):  # over ~2 s: many export attempts at a 100 ms batch delay
            statuses.append(session.get(f"{server.url}/anything/{index}", timeout=10).status_code)
            if index % 100 == 99:
                time.sleep(0.4)
    assert statuses == [200] * 400
    exchange = server.wait_for_lines(
        lambda line: "httpRequest" in line and line["request"]["path"].startswith("/anything/"),
        400,
    )
    assert len(exchange) == 400
    otel = _otel_lines(server)
    print(
        f"\nbroken collector: 400 requests, 400 x 2xx, {len(otel)} exporter lines before shutdown"
    )
    assert len(otel) <= 1, [line["message"][:120] for line in otel]  # one per 30 s, all signals
    signalled = time.monotonic()
    server.stop(timeout=GRACE_SECONDS + 5)
    stopped_after = time.monotonic() - signalled
    # Flushing to a dead collector at shutdown must still fit in Cloud Run's grace period.
    assert server.proc.returncode == 0 and stopped_after < GRACE_SECONDS, stopped_after
    assert len(_otel_lines(server)) <= 8


# ---------------------------------------------------------------- a worker is killed


def _duration_count(server: Server, route: str) -> float:
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    return sum(
        float(v) for labels, v in _COUNT_LINE.findall(text) if f'http_route="{route}"' in labels
    )


def _active(server: Server) -> float:
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    return sum(float(value) for value in _ACTIVE.findall(text))


def _open_sockets(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return count


@pytest.fixture
def two_workers(make_server: MakeServer) -> Server:
    return make_server({}, workers=2)


def _burst(server: Server, count: int, route_path: str) -> list[int]:
    def call(index: int) -> int:
        # A connection per request, so both workers serve.
        headers = {"Connection": "close"}
        return requests.get(
            f"{server.url}{route_path}/{index}", headers=headers, timeout=10
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(call, range(count)))


def test_killed_worker_is_replaced_and_counts_stay_right(two_workers: Server) -> None:
    server = two_workers
    route = "/anything/<path:path>"
    idle_active = _active(server)  # the scrape counts itself
    assert _burst(server, 200, "/anything/before") == [200] * 200
    before_kill = _duration_count(server, route)
    assert before_kill == 200

    # Slow requests in flight on both workers, then SIGKILL the busier one.
    pool = ThreadPoolExecutor(8)
    slow = [
        pool.submit(
            # Long enough to be still in flight when the kill comes, even on a loaded machine.
            requests.get,
            f"{server.url}/delay/6",
            headers={"Connection": "close"},
            timeout=15,
        )
        for _ in range(8)
    ]
    deadline = time.monotonic() + 5
    while _active(server) < idle_active + 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    old_workers = server.worker_pids()
    victim = max(old_workers, key=_open_sockets)
    server.kill_worker(victim, timeout=10)
    outcomes = []
    for future in slow:
        try:
            outcomes.append(future.result(timeout=15).status_code)
        except requests.RequestException:
            outcomes.append(0)  # served by the killed worker: the connection died with it
    pool.shutdown()

    after_kill = _duration_count(server, route)
    assert after_kill >= before_kill, "counts went backwards after a worker died"
    assert _burst(server, 100, "/anything/after") == [200] * 100
    final = _duration_count(server, route)
    print(
        f"\nworker kill: before={before_kill:g} after_kill={after_kill:g} final={final:g} "
        f"slow requests: {outcomes.count(200)} answered, {outcomes.count(0)} died with the worker"
    )
    assert final == before_kill + 100  # the dead worker's 200 are still counted
    assert 0 in outcomes, (
        "the killed worker had no request in flight: the gauge check proves nothing"
    )
    # The dead worker's in-flight requests must not stay in the active-requests gauge.
    assert _active(server) == idle_active


# ---------------------------------------------------------------- the metadata server


def _time_to_ready(make_server: MakeServer, env: dict[str, str]) -> tuple[Server, float]:
    started = time.monotonic()
    server = make_server(env)
    return server, time.monotonic() - started


@pytest.mark.parametrize("metadata", ["closed-port", "black-hole"])
def test_missing_metadata_server_does_not_delay_start_up(
    metadata: str, make_server: MakeServer
) -> None:
    listener = SilentListener() if metadata == "black-hole" else None
    port = listener.port if listener else free_port()
    baseline, baseline_seconds = _time_to_ready(make_server, {})
    baseline.stop()
    env = {
        "K_SERVICE": "echo-svc",
        "K_REVISION": "echo-svc-00001",
        "GCE_METADATA_HOST": f"127.0.0.1:{port}",
    }
    server, seconds = _time_to_ready(make_server, env)
    try:
        print(
            f"\nmetadata {metadata}: ready in {seconds:.2f}s (no Cloud Run: {baseline_seconds:.2f}s)"
        )
        assert seconds < baseline_seconds + 1.0
        response = requests.get(f"{server.url}/anything", timeout=5)
        assert response.status_code == 200
        time.sleep(1.0)  # past the metadata timeout: a late answer would show now
        response = requests.get(f"{server.url}/anything", timeout=5)
        line = server.line_for(response.headers["X-Request-Id"])
        assert "logging.googleapis.com/trace" not in line  # never a bare id
    finally:
        if listener:
            listener.close()


class FakeMetadata:
    """A metadata server that answers the project id only with Metadata-Flavor: Google."""

    def __init__(self, project: str) -> None:
        self.asked: list[tuple[str, str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                flavor = self.headers.get("Metadata-Flavor")
                fake.asked.append((self.path, flavor))
                if flavor != "Google":
                    self.send_error(403)
                    return
                if self.path != "/computeMetadata/v1/project/project-id":
                    self.send_error(404)
                    return
                body = project.encode()
                self.send_response(200)
                self.send_header("Metadata-Flavor", "Google")
                self.send_header("Content-Type", "application/text")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_project_from_the_metadata_server_names_the_trace(make_server: MakeServer) -> None:
    metadata = FakeMetadata("demo-project-123")
    server = make_server({"K_SERVICE": "echo-svc", "GCE_METADATA_HOST": metadata.host})
    try:
        trace_field = ""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # asked in the background: may land after the first line
            response = requests.get(f"{server.url}/anything", timeout=5)
            trace_id = response.json()["trace"]["trace_id"]
            trace_field = server.line_for(response.headers["X-Request-Id"]).get(
                "logging.googleapis.com/trace", ""
            )
            if trace_field:
                break
            time.sleep(0.1)
        assert trace_field == f"projects/demo-project-123/traces/{trace_id}"
        asked = [item for item in metadata.asked if item[0].endswith("/project-id")]
        assert asked == [("/computeMetadata/v1/project/project-id", "Google")]  # once
    finally:
        metadata.close()
