"""Raw-socket HTTP for requests a client library would refuse to send (bad bytes, lies, half bodies)."""

from __future__ import annotations

import dataclasses
import json
import socket
from typing import Any


@dataclasses.dataclass(frozen=True)
class RawResponse:
    """A parsed HTTP/1.x response: status, headers (lowercase names) and the body as sent."""

    status: int
    headers: dict[str, str]
    body: bytes
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def is_json(self) -> bool:
        try:
            self.json()
        except ValueError:
            return False
        return self.headers.get("content-type", "").startswith("application/json")


def send(
    port: int,
    data: bytes,
    *,
    timeout: float = 10,
    half_close: bool = False,
    read: bool = True,
) -> RawResponse | None:
    """Send `data` as is on a fresh connection; read until the server closes it.

    `half_close` shuts our write side after sending (the client is done, or gave
    up on a body it promised); `read=False` just closes. Returns None when the
    server closed without answering.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        if not read:
            return None
        raw = _read_all(sock)
    return parse(raw) if raw else None


def request(
    port: int,
    target: bytes,
    *,
    method: bytes = b"GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    timeout: float = 10,
) -> RawResponse | None:
    """One request with exactly these bytes in the request line and headers (Connection: close)."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1:%d" % port]
    lines += [name + b": " + value for name, value in headers or []]
    if body and not any(name.lower() == b"transfer-encoding" for name, _ in headers or []):
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"Connection: close")
    return send(port, b"\r\n".join(lines) + b"\r\n\r\n" + body, timeout=timeout)


def chunked(parts: list[bytes]) -> bytes:
    """A chunked transfer-coding body made of `parts`."""
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def parse(raw: bytes) -> RawResponse:
    """Parse one response (status line, headers, body by Content-Length, chunked or to close)."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(b":")
        key = name.strip().decode("latin-1").lower()
        text = value.strip().decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(rest)
    elif "content-length" in headers:
        body = rest[: int(headers["content-length"])]
    else:
        body = rest
    return RawResponse(status, headers, body, raw)


def _dechunk(data: bytes) -> bytes:
    body = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        body, data = body + data[:size], data[size + 2 :]
    return body


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)
