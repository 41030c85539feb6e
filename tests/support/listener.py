"""Small HTTP servers on 127.0.0.1 that record every connection and request they get.

They prove what reached them, and what never did: `connections` counts TCP
connections accepted, so a refused call shows as zero.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclasses.dataclass
class Received:
    """One request as a listener saw it."""

    method: str
    path: str
    headers: dict[str, str]  # lowercase names
    body: bytes
    fields: tuple[tuple[str, str], ...] = ()  # every header line as sent, repeats included

    def all_of(self, name: str) -> list[str]:
        """Every value sent under `name` (any case), in order."""
        return [value for key, value in self.fields if key.lower() == name.lower()]


Answer = Callable[["Listener", Received, BaseHTTPRequestHandler], None]


def json_answer(status: int = 200, body: Any = None) -> Answer:
    """Answer with `body` (default: what was received) as JSON."""

    def answer(_: Listener, received: Received, handler: BaseHTTPRequestHandler) -> None:
        payload = body if body is not None else dataclasses.asdict(received) | {"body": None}
        send(handler, status, json.dumps(payload).encode(), "application/json")

    return answer


def redirect_answer(location: str) -> Answer:
    """A 302 to `location`."""

    def answer(_: Listener, __: Received, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def slow_answer(seconds: float) -> Answer:
    """Wait `seconds` before answering (a stuck downstream)."""

    def answer(listener: Listener, __: Received, handler: BaseHTTPRequestHandler) -> None:
        listener.stopped.wait(seconds)
        send(handler, 200, b'{"late": true}', "application/json")

    return answer


def endless_answer(chunk: int = 16384) -> Answer:
    """An endless body: whoever reads it whole never finishes. Counts the bytes written."""

    def answer(listener: Listener, __: Received, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/plain")
        handler.end_headers()
        try:
            while not listener.stopped.is_set():
                handler.wfile.write(b"x" * chunk)
                listener.bytes_sent += chunk
        except OSError:
            listener.closed_by_peer.set()

    return answer


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    """A complete response."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class Listener:
    """A ThreadingHTTPServer on 127.0.0.1:0 answering every request with `answer`."""

    def __init__(
        self, answer: Answer | None = None, address: tuple[str, int] = ("127.0.0.1", 0)
    ) -> None:
        self.answer = answer or json_answer()
        self.received: list[Received] = []
        self.connections = 0
        self.bytes_sent = 0
        self.stopped = threading.Event()
        self.closed_by_peer = threading.Event()
        self._server = _Server(address, self._handler())
        self._server.listener = self
        self.port = int(self._server.server_address[1])
        self.url = f"http://{address[0]}:{self.port}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one_request(self) -> None:
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline or not self.parse_request():
                    self.close_connection = True
                    return
                length = int(self.headers.get("Content-Length", "0"))
                received = Received(
                    self.command,
                    self.path,
                    {key.lower(): value for key, value in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                    tuple(self.headers.items()),
                )
                listener.received.append(received)
                listener.answer(listener, received, self)
                self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def wait_for(self, count: int, timeout: float = 5) -> list[Received]:
        """Poll until `count` requests arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.received) < count:
            time.sleep(0.02)
        assert len(self.received) >= count, f"{len(self.received)} of {count} requests"
        return self.received

    def wait_for_connections(self, count: int, timeout: float = 5) -> None:
        """Poll until `count` connections were accepted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.connections < count:
            time.sleep(0.01)
        assert self.connections >= count, f"{self.connections} of {count} connections"

    def assert_untouched(self, settle: float = 0.15) -> None:
        """Nothing connected: checked after the accept loop had time to see a connection."""
        time.sleep(settle)
        assert self.connections == 0 and not self.received, f"{self.connections} connections"

    def close(self) -> None:
        self.stopped.set()
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    listener: Listener

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.listener.connections += 1
        return True
