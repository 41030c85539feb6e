"""A hand-driven HTTP/2 client on hyper-h2 (the protocol library httpx uses).

For what httpx does not show or will not send: response trailers, the server's
SETTINGS, hand-made pseudo-headers, RST_STREAM and GOAWAY, hostile bytes (with
`validate=False` the client sends names and values exactly as given).
"""

from __future__ import annotations

import dataclasses
import json
import socket
from typing import Any

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
)
from h2.exceptions import ProtocolError

Header = tuple[bytes, bytes]


@dataclasses.dataclass
class H2Response:
    """One stream's answer: status, headers and trailers (lower-case names), body, or its end."""

    status: int | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b""
    trailers: dict[str, str] = dataclasses.field(default_factory=dict)
    reset: int | None = None  # RST_STREAM's error code
    goaway: int | None = None  # GOAWAY's error code, when the connection ended instead
    ended: bool = False

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def refused(self) -> bool:
        """The HTTP/2 layer said no: the stream was reset or the connection went away."""
        return self.status is None and (self.reset is not None or self.goaway is not None)


class H2Client:
    """One h2c connection with prior knowledge to 127.0.0.1:`port`."""

    def __init__(self, port: int, *, validate: bool = True, timeout: float = 10) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        config = H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=validate,
            normalize_outbound_headers=validate,
            validate_inbound_headers=True,
        )
        self.conn = H2Connection(config=config)
        self.conn.initiate_connection()
        self.server_settings: dict[int, int] = {}
        self.goaway: int | None = None
        self._streams: dict[int, H2Response] = {}
        self._flush()

    def __enter__(self) -> H2Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: bytes | str,
        path: bytes | str,
        headers: list[Header] | None = None,
        body: bytes = b"",
        *,
        pseudo: list[Header] | None = None,
    ) -> H2Response:
        """Send one request and read until its stream ends (or is reset, or the connection goes)."""
        if pseudo is None:
            pseudo = [
                (b":method", _bytes(method)),
                (b":path", _bytes(path)),
                (b":scheme", b"http"),
                (b":authority", b"127.0.0.1:%d" % self.port),
            ]
        stream_id = self.conn.get_next_available_stream_id()
        answer = self._streams[stream_id] = H2Response()
        try:
            self.conn.send_headers(stream_id, pseudo + (headers or []), end_stream=not body)
            self._flush()
            self._send_body(stream_id, body)
            while not answer.ended and self.goaway is None:
                self._read()
        except (ConnectionError, ProtocolError, TimeoutError):
            answer.goaway = self.goaway if self.goaway is not None else -1
        if self.goaway is not None and not answer.ended:
            answer.goaway = self.goaway
        return answer

    def wait_for_settings(self) -> dict[int, int]:
        """The server's SETTINGS (its first frame), as numbers keyed by setting code."""
        while not self.server_settings and self.goaway is None:
            self._read()
        return self.server_settings

    def close(self) -> None:
        try:
            self.conn.close_connection()
            self._flush()
        except (OSError, ProtocolError):
            pass
        self.sock.close()

    def _send_body(self, stream_id: int, body: bytes) -> None:
        offset = 0
        while offset < len(body):
            window = min(
                self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size
            )
            if window <= 0:
                self._read()
                if self._streams[stream_id].ended or self.goaway is not None:
                    return
                continue
            chunk = body[offset : offset + window]
            offset += len(chunk)
            self.conn.send_data(stream_id, chunk, end_stream=offset >= len(body))
            self._flush()

    def _read(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            self.goaway = self.goaway if self.goaway is not None else -1
            return
        for event in self.conn.receive_data(data):
            self._handle(event)
        self._flush()

    def _handle(self, event: Any) -> None:
        stream = self._streams.get(getattr(event, "stream_id", 0) or 0)
        if isinstance(event, RemoteSettingsChanged):
            self.server_settings = {int(k): v.new_value for k, v in event.changed_settings.items()}
        elif isinstance(event, ConnectionTerminated):
            self.goaway = int(event.error_code)
        elif stream is None:
            return
        elif isinstance(event, ResponseReceived):
            stream.headers = _decoded(event.headers)
            stream.status = int(stream.headers.pop(":status"))
        elif isinstance(event, DataReceived):
            stream.body += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, TrailersReceived):
            stream.trailers = _decoded(event.headers)
        elif isinstance(event, StreamEnded):
            stream.ended = True
        elif isinstance(event, StreamReset):
            stream.reset, stream.ended = int(event.error_code), True

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _decoded(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {name.decode(): value.decode("utf-8", "replace") for name, value in headers}
