"""The TLS listener's gunicorn options, its ALPN and the plain-HTTP refusal (no Flask)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

from service.server import tls
from service.settings import Settings
from tests.support.certs import issue, make_ca


def _files(tmp_path: Path) -> dict[str, str]:
    ca = make_ca()
    cert, key = issue(ca, "s", ips=("127.0.0.1",), server=True).write(tmp_path, "server")
    ca_file, _ = ca.write(tmp_path, "ca")
    return {"ECHO_TLS_CERT_FILE": str(cert), "ECHO_TLS_KEY_FILE": str(key), "ca": str(ca_file)}


def test_off_by_default() -> None:
    assert tls.options(Settings.from_env({})) == {}


def test_options_map_the_client_certificate_mode(tmp_path: Path) -> None:
    files = _files(tmp_path)
    env = {k: v for k, v in files.items() if k.startswith("ECHO_")}
    assert tls.options(Settings.from_env(env))["cert_reqs"] == ssl.CERT_NONE
    asked = Settings.from_env(
        {**env, "ECHO_TLS_CLIENT_CERT": "optional", "ECHO_TLS_CLIENT_CA_FILE": files["ca"]}
    )
    options = tls.options(asked)
    assert options["cert_reqs"] == ssl.CERT_OPTIONAL and options["ca_certs"] == files["ca"]
    assert options["certfile"] == files["ECHO_TLS_CERT_FILE"]


class _Conf:
    def __init__(self, protocols: list[str]) -> None:
        self.http_protocols = protocols


def _alpn(conf: _Conf, files: dict[str, str]) -> str | None:
    """What a client offering h2 and http/1.1 gets from a context built by tls.ssl_context."""

    def default() -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(files["ECHO_TLS_CERT_FILE"], files["ECHO_TLS_KEY_FILE"])
        if "h2" in conf.http_protocols:
            context.set_alpn_protocols(["h2", "http/1.1"])  # as gunicorn does
        return context

    server_context = tls.ssl_context(conf, default)
    client_context = ssl.create_default_context(cafile=files["ca"])
    client_context.set_alpn_protocols(["h2", "http/1.1"])
    near, far = socket.socketpair()
    server = server_context.wrap_socket(near, server_side=True, do_handshake_on_connect=False)
    client = client_context.wrap_socket(
        far, server_hostname="127.0.0.1", do_handshake_on_connect=False
    )
    for side in (client, server):
        side.setblocking(False)
    done: set[int] = set()
    while len(done) < 2:
        for index, side in enumerate((client, server)):
            try:
                side.do_handshake()
                done.add(index)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
    chosen = server.selected_alpn_protocol()
    client.close()
    server.close()
    return chosen


def test_alpn_offers_http11_and_leaves_h2_to_gunicorn(tmp_path: Path) -> None:
    files = _files(tmp_path)
    assert _alpn(_Conf(["h1"]), files) == "http/1.1"
    assert _alpn(_Conf(["h1", "h2"]), files) == "h2"


def test_plain_http_is_recognised_and_answered(tmp_path: Path) -> None:
    files = _files(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files["ECHO_TLS_CERT_FILE"], files["ECHO_TLS_KEY_FILE"])
    server, client = socket.socketpair()
    client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    wrapped = context.wrap_socket(server, server_side=True, do_handshake_on_connect=False)
    error: Any = None
    try:
        wrapped.do_handshake()
    except ssl.SSLError as failed:
        error = failed
    assert tls.is_plain_http(error) and not tls.is_plain_http(OSError())
    tls.refuse_plain_http(wrapped)
    answer = client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"https://" in answer
    wrapped.close()
    client.close()
