"""SIGTERM (Cloud Run's stop): in-flight requests finish, are logged and traced, all exit within 10 s."""

from __future__ import annotations

import re
import secrets
import signal
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support.otlp import OtlpReceiver
from tests.support.server import Server

IN_FLIGHT = 6
GRACE_SECONDS = 10  # Cloud Run's SIGKILL comes 10 s after SIGTERM
SERVER_KIND = 2
_ACTIVE = re.compile(r"^http_server_active_requests\{[^}]*\} (\S+)$", re.M)


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _active_requests(server: Server) -> float:
    text = requests.get(f"{server.url}/metrics", timeout=5).text
    return sum(float(value) for value in _ACTIVE.findall(text))


def _wait_until_in_flight(server: Server, count: int) -> None:
    """Poll the active-requests gauge until `count` requests (plus this scrape) are running."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if _active_requests(server) >= count + 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} requests never were in flight at once")


@pytest.mark.parametrize("schedule_delay_ms", ["100", "30000"])
def test_sigterm_finishes_in_flight_requests_flushes_spans_and_exits(
    schedule_delay_ms: str, make_server: MakeServer
) -> None:
    receiver = OtlpReceiver()
    # With a 30 s batch delay, only the flush at worker exit can deliver the spans in time.
    env = {**receiver.env(), "OTEL_BSP_SCHEDULE_DELAY": schedule_delay_ms}
    server = make_server(env, workers=2)
    pool = ThreadPoolExecutor(IN_FLIGHT)
    try:
        pids = [server.proc.pid, *server.worker_pids()]
        assert len(pids) == 3
        trace_ids = [secrets.token_hex(16) for _ in range(IN_FLIGHT)]
        futures: list[Future[requests.Response]] = [
            pool.submit(
                requests.get,
                f"{server.url}/delay/1",
                headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
                timeout=15,
            )
            for trace_id in trace_ids
        ]
        _wait_until_in_flight(server, IN_FLIGHT)

        server.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        responses = [future.result(timeout=15) for future in futures]
        while any(_alive(pid) for pid in pids) and time.monotonic() - signalled < GRACE_SECONDS + 5:
            time.sleep(0.05)
        exited_after = time.monotonic() - signalled

        assert [response.status_code for response in responses] == [200] * IN_FLIGHT
        assert [response.json()["trace"]["trace_id"] for response in responses] == trace_ids
        assert not [pid for pid in pids if _alive(pid)], (
            f"still running {exited_after:.1f}s after SIGTERM"
        )
        assert exited_after < GRACE_SECONDS
        assert server.proc.wait(timeout=1) == 0

        request_ids = {response.headers["X-Request-Id"] for response in responses}
        logged = {line["uuid"] for line in server.exchange_lines() if line["uuid"] in request_ids}
        assert logged == request_ids, "an in-flight request was not logged"

        spans = [
            s for s in receiver.spans if s.kind == SERVER_KIND and s.trace_id in set(trace_ids)
        ]
        assert sorted(s.trace_id for s in spans) == sorted(trace_ids), "spans lost at shutdown"
        print(
            f"\nshutdown (BSP delay {schedule_delay_ms} ms): {len(responses)} in flight, "
            f"{len(logged)} logged, {len(spans)} spans, all exited {exited_after:.2f}s after SIGTERM"
        )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        server.stop()  # before the receiver closes: spans flushed at exit still find it
        receiver.close()
