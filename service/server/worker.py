"""gunicorn's worker with echoscope's JSON error shape for the requests gunicorn itself refuses.

gunicorn answers what it cannot parse (a request line over its limit: 414, too
many or too large header fields: 431, malformed requests: 400, …) with a small
HTML page before any application code runs. This worker keeps gunicorn's own
decision (status, reason, message, its log line) and writes that decision as
`{"error", "status", "detail"}` JSON instead. No Flask here: the master loads it.
"""

from __future__ import annotations

import html
import re
from typing import Any

from gunicorn import util

from service.server import tls
from service.server.client import Limits, error_response
from service.server.environ import ProtocolFacts
from service.server.eventloop import BoundedWorker

_STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) ([^\r\n]*)\r\n")
_MESSAGE = re.compile(rb"</h1>\s*(.*?)\s*</body>", re.DOTALL)


class JsonErrorWorker(ProtocolFacts, BoundedWorker):
    """gunicorn's threaded worker, bounded (server/eventloop.py), with ProtocolFacts, refusing
    in JSON."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if tls.is_plain_http(exc):
            self.log.warning("Plain HTTP on the TLS port from ip=%s: answered 400", addr[0])
            try:
                tls.refuse_plain_http(client)
            except OSError:
                self.log.debug("Failed to send error message.")
            return
        page = _CapturedSocket(client)
        super().handle_error(req, page, addr, exc)
        if page.data:
            try:
                util.write_nonblock(client, json_page(page.data))
            except Exception:
                self.log.debug("Failed to send error message.")


def configured(limits: Limits) -> type[JsonErrorWorker]:
    """The worker class with these read bounds (gunicorn's `worker_class` may be a class)."""
    return type("JsonErrorWorker", (JsonErrorWorker,), {"limits": limits})


def json_page(html_page: bytes) -> bytes:
    """The HTTP response gunicorn wrote as HTML, rewritten as the JSON error shape."""
    status = _STATUS_LINE.match(html_page)
    code, reason = (int(status[1]), status[2].decode("latin-1")) if status else (400, "Bad Request")
    message = _MESSAGE.search(html_page)
    detail = html.unescape(message[1].decode("latin-1")) if message else ""
    return error_response(code, reason, detail)


class _CapturedSocket:
    """Stands in for the client socket while gunicorn writes its page, and keeps the bytes."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.data = b""

    def sendall(self, data: bytes) -> None:
        self.data += data

    def gettimeout(self) -> float | None:
        return 0.0

    def setblocking(self, flag: bool) -> None:
        """Nothing: the real socket is left as gunicorn had it."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)
