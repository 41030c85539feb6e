"""Where /call may go (service/calls/targets.py) and the connection-time address check (downstream.py)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import httpcore
import pytest

from service.calls import downstream, targets
from service.calls.targets import BadUrl, Targets, forbidden, parse
from tests.support.listener import Listener

# --- the allow-list ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://api.example:8080/v1", True),
        ("http://api.example:8080/v1/", True),
        ("http://API.example:8080/v1/x?y=1", True),
        ("http://api.example:8080/v1x", False),
        ("http://api.example:8080/v2", False),
        ("http://api.example:8080/v1/../v2", False),  # normalised to /v2 before the check
        ("https://api.example:8080/v1", False),
        ("http://api.example/v1", False),
        ("http://api.example.evil:8080/v1", False),
        ("https://run.example/anything", True),
        ("https://run.example:443/", True),
        ("http://[::1]:9000/deep/path", True),
    ],
)
def test_urls_match_scheme_host_port_and_a_path_segment(url: str, allowed: bool) -> None:
    listed = Targets(("http://api.example:8080/v1", "https://run.example", "http://[::1]:9000"))
    assert listed.allows(parse(url)) is allowed


def test_server_address_is_a_listed_host() -> None:
    listed = Targets(("http://api.example:8080/v1",))
    assert listed.server_address(parse("http://api.example:8080/v1/x")) == "api.example"
    assert listed.server_address(parse("http://other.example/")) == targets.OTHER


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "/relative",
        "mailto:a@b",
        "http://user:pw@host/",
        "http://host/a%2fb",
        "http://host/%2E%2E/x",
        "http://host:70000/",
        "http://hóst/",
        "http://host/a\\b",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(BadUrl):
        parse(url)


def test_literal_ips_in_the_targets_are_known() -> None:
    listed = Targets(("http://169.254.169.254/", "http://metadata.google.internal/"))
    assert listed.literal_ips == {ipaddress.ip_address("169.254.169.254")}


# --- forbidden addresses -------------------------------------------------------------------

NONE: frozenset[Any] = frozenset()


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("169.254.169.254", True),
        ("169.254.1.1", True),
        ("fe80::1", True),
        ("fd00:ec2::254", True),
        ("::ffff:169.254.169.254", True),
        ("64:ff9b::a9fe:a9fe", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("::1", False),
        ("2001:db8::1", False),
    ],
)
def test_link_local_and_metadata_addresses_are_forbidden(address: str, refused: bool) -> None:
    assert forbidden(ipaddress.ip_address(address), NONE) is refused


def test_an_ip_listed_literally_is_allowed() -> None:
    literal = frozenset({ipaddress.ip_address("169.254.169.254")})
    assert not forbidden(ipaddress.ip_address("169.254.169.254"), literal)
    assert forbidden(ipaddress.ip_address("169.254.169.253"), literal)


def _resolver(monkeypatch: pytest.MonkeyPatch, *answers: list[str]) -> list[str]:
    """Patch getaddrinfo: each lookup of `*.test` gives the next list of addresses."""
    asked: list[str] = []
    real = socket.getaddrinfo
    queue = list(answers)

    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if not host.endswith(".test"):
            return real(host, port, *args, **kwargs)
        asked.append(host)
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


def test_a_name_resolving_to_a_forbidden_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listener = Listener()
    try:
        _resolver(monkeypatch, ["127.0.0.1", "169.254.169.254"])
        backend = downstream.CheckedBackend(NONE)
        with pytest.raises(downstream.ForbiddenAddress, match=r"169\.254\.169\.254"):
            backend.connect_tcp("sneaky.test", listener.port, timeout=1)
        listener.assert_untouched()  # not even to the allowed first address
    finally:
        listener.close()


def test_the_checked_address_is_the_one_connected(monkeypatch: pytest.MonkeyPatch) -> None:
    listener = Listener()
    try:
        # A rebinding name: first 127.0.0.1, then the metadata address on any later lookup.
        asked = _resolver(monkeypatch, ["127.0.0.1"], ["169.254.169.254"])
        stream = downstream.CheckedBackend(NONE).connect_tcp("rebind.test", listener.port, 1)
        stream.close()
        assert asked == ["rebind.test"]  # resolved once: connecting asked nobody again
        listener.wait_for_connections(1)
        with pytest.raises(downstream.ForbiddenAddress):
            downstream.CheckedBackend(NONE).connect_tcp("rebind.test", listener.port, 1)
    finally:
        listener.close()


def test_an_unresolvable_name_is_a_connect_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: Any, **__: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(httpcore.ConnectError, match=r"cannot resolve nowhere\.test"):
        downstream.CheckedBackend(NONE).connect_tcp("nowhere.test", 80, 1)
