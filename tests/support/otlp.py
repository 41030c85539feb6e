"""A real OTLP receiver on 127.0.0.1: traces, metrics and logs over OTLP/HTTP and OTLP/gRPC.

OTLP/HTTP on `endpoint` (POST /v1/traces, /v1/metrics, /v1/logs; binary
protobuf or OTLP JSON by Content-Type) and, once `grpc_endpoint` is asked for,
OTLP/gRPC through grpcio's server with opentelemetry-proto's service
definitions. Everything decoded lands in `spans`, `logs` and `points`.
`down()` closes the HTTP port (a collector that went away), `up()` opens the
same port again; `refuse(n)` answers the next n HTTP requests 503 (a collector
shedding load); `hang=True` accepts requests and never answers.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from tests.support.otlpdecode import (
    ReceivedLog,
    ReceivedPoint,
    ReceivedSpan,
    decode,
    decode_json,
    logs_of,
    points_of,
    spans_of,
)

__all__ = ["OtlpReceiver", "ReceivedLog", "ReceivedPoint", "ReceivedSpan", "decode_json"]
T = TypeVar("T")
_PATHS = {"/v1/traces": "traces", "/v1/metrics": "metrics", "/v1/logs": "logs"}


class OtlpReceiver:
    """Accepts every OTLP signal; see the module docstring."""

    def __init__(self, hang: bool = False) -> None:
        self.spans: list[ReceivedSpan] = []
        self.logs: list[ReceivedLog] = []
        self.points: list[ReceivedPoint] = []
        self.requests = 0
        self.content_types: list[str] = []
        self.encodings: list[str] = []  # each accepted HTTP request's Content-Encoding
        self.agents: dict[str, set[str]] = {}  # the User-Agents each signal came with (HTTP)
        self.refused = 0
        self._refusals = 0
        self.signals: list[str] = []  # the signal of each request, in arrival order
        self._lock = threading.Lock()
        self._hang = threading.Event()
        if hang:
            self._hang.set()
        self._server = self._serve(0)
        self.port = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._grpc: Any = None

    def _serve(self, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver._hang.is_set():
                    time.sleep(60)
                    return
                signal = _PATHS.get(self.path)
                if signal is None:
                    self.send_error(404)
                    return
                if receiver._refusing():
                    self.send_error(503)
                    return
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                content_type = self.headers.get("Content-Type", "")
                try:
                    message = decode(signal, body, content_type)
                except (ValueError, json_format.ParseError) as error:
                    self.send_error(400, str(error))
                    return
                receiver.accept(signal, message, content_type)
                with receiver._lock:
                    receiver.encodings.append(encoding)
                    agent = self.headers.get("User-Agent", "")
                    receiver.agents.setdefault(signal, set()).add(agent)
                as_json = content_type == "application/json"
                reply = b"{}" if as_json else b""  # an empty Export*ServiceResponse
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def refuse(self, count: int) -> None:
        """Answer the next `count` OTLP/HTTP requests 503 Service Unavailable."""
        with self._lock:
            self._refusals = count

    def _refusing(self) -> bool:
        with self._lock:
            if self._refusals <= 0:
                return False
            self._refusals -= 1
            self.refused += 1
            return True

    def accept(self, signal: str, message: Message, content_type: str) -> None:
        """Keep what one export request carried."""
        with self._lock:
            self.requests += 1
            self.content_types.append(content_type)
            self.signals.append(signal)
            if signal == "traces":
                self.spans.extend(spans_of(message))
            elif signal == "logs":
                self.logs.extend(logs_of(message))
            else:
                self.points.extend(points_of(message))

    @property
    def grpc_endpoint(self) -> str:
        """An OTLP/gRPC server on another port, started on first use."""
        if self._grpc is None:
            from tests.support.otlpgrpc import serve

            self._grpc = serve(self)
        return f"http://127.0.0.1:{self._grpc.port}"

    def env(
        self, protocol: str = "http/protobuf", signals: Sequence[str] = ("traces",)
    ) -> dict[str, str]:
        """The settings that make echoscope export `signals` to this receiver, quickly."""
        endpoint = self.grpc_endpoint if protocol == "grpc" else self.endpoint
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_BLRP_SCHEDULE_DELAY": "100",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
        }
        if "traces" in signals:
            env["OTEL_TRACES_EXPORTER"] = "otlp"
        if "metrics" in signals:
            env["OTEL_METRICS_EXPORTER"] = "prometheus,otlp"
        if "logs" in signals:
            env["OTEL_LOGS_EXPORTER"] = "otlp"
        return env

    def wait_for(self, count: int, timeout: float = 10, **match: Any) -> list[ReceivedSpan]:
        """Poll until `count` spans whose fields named in `match` equal those values arrived."""
        return self._wait(lambda: self.spans, count, timeout, match, "spans")

    def wait_for_logs(self, count: int, timeout: float = 10, **match: Any) -> list[ReceivedLog]:
        """Poll until `count` log records matching `match` arrived."""
        return self._wait(lambda: self.logs, count, timeout, match, "log records")

    def _wait(
        self,
        items: Callable[[], list[T]],
        count: int,
        timeout: float,
        match: dict[str, Any],
        what: str,
    ) -> list[T]:
        deadline = time.monotonic() + timeout
        found: list[T] = []
        while time.monotonic() < deadline:
            with self._lock:
                found = [i for i in items() if all(getattr(i, k) == v for k, v in match.items())]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{len(found)} of {count} {what} matching {match} after {timeout}s")

    def latest_points(self, name: str) -> list[ReceivedPoint]:
        """The newest data point of each series of metric `name` (cumulative: the totals)."""
        newest: dict[tuple[Any, ...], ReceivedPoint] = {}
        with self._lock:
            points = [point for point in self.points if point.name == name]
        for point in points:
            key = (
                point.resource.get("service.instance.id"),
                tuple(sorted(point.attributes.items())),
            )
            if key not in newest or point.time_unix_nano >= newest[key].time_unix_nano:
                newest[key] = point
        return list(newest.values())

    def down(self) -> None:
        """Close the HTTP port: exporters get connection refused."""
        self._server.shutdown()
        self._server.server_close()

    def up(self) -> None:
        """Listen on the same HTTP port again."""
        self._server = self._serve(self.port)

    def close(self) -> None:
        self._hang.clear()
        self.down()
        if self._grpc is not None:
            self._grpc.stop()
