"""The inspector's history under real gunicorn: SQLite shared by two workers, Redis by two instances."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.integration.conftest import MakeServer
from tests.support.redisserver import RedisServer
from tests.support.server import Server, free_port

TOKEN = "integration-token-5b7e"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def history(server: Server, query: str = "limit=500") -> list[dict[str, Any]]:
    response = requests.get(f"{server.url}/_echoscope/exchanges?{query}", headers=AUTH, timeout=5)
    assert response.status_code == 200, response.text
    exchanges: list[dict[str, Any]] = response.json()["exchanges"]
    return exchanges


def wait_for_history(server: Server, uuids: set[str], timeout: float = 10) -> list[dict[str, Any]]:
    """Poll the history until every uuid is in it (the writer thread is asynchronous)."""
    deadline = time.monotonic() + timeout
    kept: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        kept = history(server)
        if uuids <= {entry["uuid"] for entry in kept}:
            return kept
        time.sleep(0.1)
    missing = uuids - {entry["uuid"] for entry in kept}
    raise AssertionError(f"{len(missing)} exchanges never reached the history")


class EventReader:
    """Reads a live stream in a thread and keeps its events."""

    def __init__(self, server: Server, headers: dict[str, str] | None = None) -> None:
        self.events: list[dict[str, str]] = []
        self._conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self._conn.request(
            "GET", "/_echoscope/exchanges/stream", headers={**AUTH, **(headers or {})}
        )
        self._response = self._conn.getresponse()
        assert self._response.status == 200, self._response.read()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        event: dict[str, str] = {}
        try:
            while line := self._response.readline():
                text = line.decode().rstrip("\n")
                if not text:
                    if event:
                        self.events.append(event)
                    event = {}
                elif not text.startswith(":"):
                    field, _, value = text.partition(": ")
                    event[field] = value
        except (OSError, ValueError, http.client.HTTPException):
            return  # closed by the test while reading

    def paths(self) -> list[str]:
        return [json.loads(e["data"])["path"] for e in self.events if e.get("event") == "exchange"]

    def wait_for(self, path: str, timeout: float = 10) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("event") == "exchange" and json.loads(event["data"])["path"] == path:
                    return event
            time.sleep(0.05)
        raise AssertionError(f"no event for {path}; got {self.paths()}")

    def close(self) -> None:
        """Hang up (the server notices at its next poll)."""
        assert self._conn.sock is not None
        self._conn.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        self._conn.close()


# --- off --------------------------------------------------------------------------------------


def test_without_the_token_setting_the_inspector_is_a_404(server: Server) -> None:
    for path in ("/_echoscope/", "/_echoscope/exchanges", "/_echoscope/exchanges/stream"):
        response = requests.get(f"{server.url}{path}", headers=AUTH, timeout=5)
        assert response.status_code == 404
        assert response.json()["status"] == 404


# --- SQLite: one file, two workers ------------------------------------------------------------


@pytest.fixture(scope="module")
def two_workers(make_module_server: MakeServer) -> Server:
    return make_module_server({"ECHO_INSPECT_TOKEN": TOKEN}, workers=2)


def _served_by_both(server: Server) -> set[str]:
    """Send requests (new connection each) until both workers have answered some."""
    uuids: set[str] = set()
    for n in range(300):
        uuids.add(requests.get(f"{server.url}/sqlite/{n}", timeout=5).headers["X-Request-Id"])
        if n >= 20 and n % 10 == 0:
            kept = wait_for_history(server, uuids)
            if len({entry["request"]["server"]["instance"] for entry in kept}) == 2:
                return uuids
    raise AssertionError("one worker answered every request")


def test_two_workers_share_one_history_that_outlives_them(two_workers: Server) -> None:
    uuids = _served_by_both(two_workers)
    for victim in two_workers.worker_pids():  # every worker that wrote is killed, one by one
        two_workers.kill_worker(victim)
    kept = wait_for_history(two_workers, uuids, timeout=2)
    assert len({entry["request"]["server"]["instance"] for entry in kept}) == 2
    after = requests.get(f"{two_workers.url}/after-the-kill", timeout=5).headers["X-Request-Id"]
    wait_for_history(two_workers, {after})


def test_the_live_stream_sees_every_worker(two_workers: Server) -> None:
    reader = EventReader(two_workers)
    try:
        for n in range(30):
            requests.get(f"{two_workers.url}/live/{n}", timeout=5)
        for n in range(30):
            reader.wait_for(f"/live/{n}")
    finally:
        reader.close()
    ids = [event["id"] for event in reader.events if event.get("event") == "exchange"]
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)  # one growing cursor


def test_the_stream_resumes_after_last_event_id(two_workers: Server) -> None:
    uuid = requests.get(f"{two_workers.url}/resume/1", timeout=5).headers["X-Request-Id"]
    wait_for_history(two_workers, {uuid})
    cursor = history(two_workers, f"uuid={uuid}")[0]["id"]
    requests.get(f"{two_workers.url}/resume/2", timeout=5)
    reader = EventReader(two_workers, {"Last-Event-ID": cursor})
    try:
        reader.wait_for("/resume/2")
    finally:
        reader.close()
    assert "/resume/1" not in reader.paths()


# --- Redis: one history, two instances -----------------------------------------------------


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    running = RedisServer()
    yield running
    running.stop()


def test_two_instances_share_one_redis_history(
    redis_server: RedisServer, make_server: MakeServer
) -> None:
    env = {"ECHO_INSPECT_TOKEN": TOKEN, "ECHO_HISTORY_URL": redis_server.url,
           "ECHO_HISTORY_SIZE": "40"}  # fmt: skip
    first, second = make_server(env), make_server(env)
    reader = EventReader(second)
    try:
        uuid = requests.get(f"{first.url}/via/first", timeout=5).headers["X-Request-Id"]
        assert json.loads(reader.wait_for("/via/first")["data"])["uuid"] == uuid
        wait_for_history(second, {uuid})
        for n in range(50):
            requests.get(f"{second.url}/many/{n}", timeout=5)
        reader.wait_for("/many/49")
        kept = history(first)
        assert len(kept) == 40  # ECHO_HISTORY_SIZE across both instances
        assert kept[0]["path"] == "/many/49"
        assert redis_server.client.xlen("echoscope:exchanges") == 40
    finally:
        reader.close()


def test_a_redis_that_is_down_never_fails_a_request(make_server: MakeServer) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    server = make_server({"ECHO_INSPECT_TOKEN": TOKEN, "ECHO_HISTORY_URL": down})
    for n in range(20):
        assert requests.get(f"{server.url}/down/{n}", timeout=5).status_code == 200
    response = requests.get(f"{server.url}/_echoscope/exchanges", headers=AUTH, timeout=5)
    assert response.status_code == 503
    assert response.json()["error"] == "Service Unavailable"
    failed = "history store failed: exchanges lost"
    (warning,) = server.wait_for_lines(lambda line: line.get("message") == failed)
    assert warning["severity"] == "WARNING"
    for n in range(20):
        requests.get(f"{server.url}/down/again/{n}", timeout=5)
    time.sleep(0.5)  # the later batches fail too: still that one line (rate-limited)
    assert [line for line in server.json_lines() if line.get("message") == failed] == [warning]
