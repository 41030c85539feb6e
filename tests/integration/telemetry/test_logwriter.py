"""The log writer thread through real gunicorn: nothing lost at SIGTERM, at most 50 ms at SIGKILL."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from service.telemetry import logwriter
from tests.integration.conftest import MakeServer
from tests.support.server import Server

CLIENTS = 32


def _post(server: Server, number: int) -> str:
    # Bodies from empty to 6 KB: many lines are longer than a pipe's atomic write.
    body = b"z" * (number * 397 % 6000)
    response = requests.post(f"{server.url}/anything/{number}", data=body, timeout=30)
    assert response.status_code == 200
    return response.headers["X-Request-Id"]


def test_32_threads_then_sigterm_every_line_whole_and_written(make_server: MakeServer) -> None:
    server = make_server({"ECHO_THREADS": str(CLIENTS), "ECHO_LOG_BODY_BYTES": "8192"})
    with ThreadPoolExecutor(CLIENTS) as pool:
        ids = list(pool.map(lambda n: _post(server, n), range(CLIENTS * 12)))
    assert server.stop() == 0  # SIGTERM: graceful, the worker's exit writes what is queued
    lines = server.exchange_lines()  # every stdout line must parse as JSON
    assert sorted(line["uuid"] for line in lines) == sorted(ids)  # one line each, none torn


def test_sigkill_loses_nothing_older_than_the_flush_interval(make_server: MakeServer) -> None:
    server = make_server({})
    ids = [_post(server, n) for n in range(40)]
    time.sleep(10 * logwriter.FLUSH_SECONDS)  # well past the bound, far from any exit flush
    server.kill_worker(server.worker_pids()[0])
    assert set(ids) <= {line["uuid"] for line in server.exchange_lines()}
