"""HTTP/1.1 response trailers for gunicorn, which sends them only over HTTP/2.

gunicorn ends a chunked HTTP/1.1 body with an empty last chunk and no trailer
section. `install()` (called by config/gunicorn.conf.py) gives every HTTP/1.1
request an `environ[ENVIRON_KEY]` list: (name, value) pairs the app appends
before its body ends are written in the last chunk (RFC 9112 §7.1.2). Nothing
changes for a response that is not chunked or appends nothing. The app checks
names and values; this module only frames them.
"""

from __future__ import annotations

from typing import Any

ENVIRON_KEY = "echoscope.trailers"
_INSTALLED = "_echoscope_trailers_installed"


def install() -> None:
    """Patch gunicorn's HTTP/1 response writer once per process (pinned gunicorn 27)."""
    from gunicorn.http import wsgi

    if getattr(wsgi, _INSTALLED, False):
        return
    create, close = wsgi.create, wsgi.Response.close

    def create_with_trailers(*args: Any, **kwargs: Any) -> Any:
        resp, environ = create(*args, **kwargs)
        if type(resp) is wsgi.Response:  # HTTP/2 responses have gunicorn's own trailers
            environ[ENVIRON_KEY] = resp.echoscope_trailers = []
        return resp, environ

    def close_with_trailers(self: Any) -> None:
        trailers = getattr(self, "echoscope_trailers", None)
        if not (trailers and self.chunked):
            close(self)
            return
        if not self.headers_sent:
            self.send_headers()
        fields = "".join(f"{name}: {value}\r\n" for name, value in trailers)
        self.sock.sendall(b"0\r\n" + fields.encode("latin-1") + b"\r\n")

    wsgi.create = create_with_trailers
    wsgi.Response.close = close_with_trailers
    setattr(wsgi, _INSTALLED, True)
