"""The soak's prober: the connection-level cases, each checked as a client sees it; the report.

Each case is one exchange for echoscope (one line, one count, one span), so the
soak's books still balance. A case that does not look as README's Connection
level says is an unexpected error.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

_GAP = 0.25  # seconds between two cases
_INTERLEAVED = (
    " (two workers' lines longer than PIPE_BUF interleaved on the shared stdout pipe;"
    " the books above count them by their `httpRequest` key)"
)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _send(port: int, data: bytes, half_close: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return _read_all(sock)


def _fault(name: str, extra: str = "") -> bytes:
    return (
        f"GET /anything?x-set-response-fault={name}{extra} HTTP/1.1\r\nHost: soak\r\n\r\n"
    ).encode()


def _reset(port: int) -> str | None:
    try:
        got = _send(port, _fault("reset"))
    except ConnectionResetError:
        return None
    return f"no reset: {got[:60]!r}"


def _close(port: int) -> str | None:
    got = _send(port, _fault("close"))
    return None if got == b"" else f"bytes before the close: {got[:60]!r}"


def _truncate(port: int) -> str | None:
    head, _, body = _send(port, _fault("truncate")).partition(b"\r\n\r\n")
    length = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    if not length or len(body) != int(length[0].split(b":")[1]) // 2:
        return f"not half the body: {head[:60]!r} {len(body)}"
    return None


def _malformed(port: int) -> str | None:
    got = _send(port, _fault("malformed"))
    return None if got.startswith(b"HTTP/1.1 MALFORMED ") else f"status line: {got[:40]!r}"


def _slow(port: int) -> str | None:
    started = time.monotonic()
    head, _, body = _send(port, _fault("slow", "&x-set-response-delay-ms=200&c=close")).partition(
        b"\r\n\r\n"
    )
    if not head.startswith(b"HTTP/1.1 200") or json.loads(body)["method"] != "GET":
        return f"not a whole answer: {head[:60]!r}"
    return None if time.monotonic() - started >= 0.18 else "not slow"


def _cut(port: int) -> str | None:
    request = b"POST /anything HTTP/1.1\r\nHost: soak\r\nContent-Length: 100\r\n\r\n0123456789"
    head, _, body = _send(port, request, half_close=True).partition(b"\r\n\r\n")
    ok = head.startswith(b"HTTP/1.1 400") and "after 10 of the 100" in json.loads(body)["detail"]
    return None if ok else f"not a 400 naming both sizes: {head[:40]!r}"


def _expect(port: int) -> str | None:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(
            b"POST /anything HTTP/1.1\r\nHost: soak\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        first = sock.recv(65536)
        if first != b"HTTP/1.1 100 Continue\r\n\r\n":
            return f"no 100 Continue first: {first[:40]!r}"
        sock.sendall(b"hello")
        rest = _read_all(sock)
    return None if rest.startswith(b"HTTP/1.1 200") and b'"data":"hello"' in rest else "no echo"


CASES: dict[str, Callable[[int], str | None]] = {
    "reset": _reset,
    "close": _close,
    "truncate": _truncate,
    "malformed": _malformed,
    "slow": _slow,
    "body_cut_short": _cut,
    "expect_100": _expect,
}


class Prober(threading.Thread):
    """Runs the cases in turn until `stop_at`, counting each and keeping what went wrong."""

    def __init__(self, port: int, stop_at: float) -> None:
        super().__init__(daemon=True)
        self._port, self._stop_at = port, stop_at
        self.sent = dict.fromkeys(CASES, 0)
        self.unexpected: list[str] = []

    def run(self) -> None:
        turn = 0
        while time.monotonic() < self._stop_at:
            name = list(CASES)[turn % len(CASES)]
            try:
                problem = CASES[name](self._port)
            except (OSError, ValueError) as error:
                problem = repr(error)
            self.sent[name] += 1
            if problem is not None:
                self.unexpected.append(f"{name}: {problem}")
            turn += 1
            time.sleep(_GAP)

    def report(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "unexpected": len(self.unexpected),
            "examples": self.unexpected[:10],
        }


def markdown(report: dict[str, Any]) -> str:
    """The soak's results for a reader."""
    load, peak, books, prober = report["load"], report["peak"], report["books"], report["prober"]
    rows = "\n".join(
        f"| {pid} | {r['first_kib']} | {r['last_kib']} | {r['slope_kib_per_min_after_warmup']} |"
        for pid, r in report["rss"].items()
    )
    balanced = books["lines"] == books["counted"] == books["spans"]
    return f"""# Soak: {report["duration_s"]} s, {report["workers"]} workers

Written by `bash bench/soak.sh --duration {report["duration_s"]}` (bench/soak.py).

- Peak of the mix (unpaced, {peak["seconds"]:.0f} s): {peak["rps"]:.0f} req/s.
- Paced load: {load["rps"]:.0f} req/s = {report["load_of_peak"]:.0%} of the peak,
  {load["requests"]} requests, p50 {load["p50_ms"]:.1f} ms, p99 {load["p99_ms"]:.1f} ms.
- wrk errors: {load["status_errors"]} non-2xx/3xx, {load["socket_errors"]} socket errors.
- Connection-level cases: {sum(prober["sent"].values())} sent ({prober["sent"]}),
  {prober["unexpected"]} unexpected{": " + "; ".join(prober["examples"]) if prober["examples"] else ""}.
- Books: {books["lines"]} exchange lines, {books["counted"]} requests counted (excluded
  paths left out), {books["spans"]} spans received: {"equal" if balanced else "NOT equal"}.
- Lines that were not JSON: {report["invalid_lines"]}{_INTERLEAVED if report["invalid_lines"] else ""};
  ERROR lines: {len(report["error_lines"])}.

Worker RSS (KiB; slope by least squares over the run after its first 20 %):

| worker pid | first | last | slope KiB/min |
|---|---|---|---|
{rows}
"""
