"""The HTTP client behind `/call`: httpx, traced by OpenTelemetry's httpx instrumentation.

Every connection goes through `CheckedBackend`: the host is resolved once, each
address is checked (service.calls.targets.forbidden) and the connection is made to
that checked address, so no second lookup can answer differently. No proxies
from the environment, no redirects, identity encoding only (nothing to inflate).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from typing import Any

import certifi
import httpcore
import httpx
import orjson
from opentelemetry.instrumentation.httpx import SyncOpenTelemetryTransport
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import TracerProvider

from service.calls.targets import IPAddress, forbidden

RESPONSE_CAP_BYTES = 65536
CUT_AT_CAP = "cap"
CUT_AT_DEADLINE = "deadline"


class ForbiddenAddress(httpcore.ConnectError):
    """The host resolved to a link-local or metadata address; nothing was connected."""


class CheckedBackend(httpcore.SyncBackend):
    """httpcore's network backend, connecting only to addresses that passed the check."""

    def __init__(self, literal_ips: frozenset[IPAddress]) -> None:
        self._literal_ips = literal_ips

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve `host` once, refuse it if any address is forbidden, else connect to one."""
        error: httpcore.ConnectError | None = None
        for address in self.checked_addresses(host, port):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as failure:
                error = failure
        raise error or httpcore.ConnectError(f"{host} resolved to no address")

    def checked_addresses(self, host: str, port: int) -> list[str]:
        """Every address `host` resolves to, or ForbiddenAddress when one of them is forbidden."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error.strerror}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            if forbidden(ipaddress.ip_address(address.split("%")[0]), self._literal_ips):
                raise ForbiddenAddress(
                    f"refused: {host} resolves to {address}, a link-local or metadata address "
                    "(only an IP literal in ECHO_CALL_TARGETS allows one)"
                )
        return addresses


class _CheckedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that uses CheckedBackend."""

    def __init__(self, literal_ips: frozenset[IPAddress], max_connections: int) -> None:
        super().__init__(trust_env=False)
        # httpx.HTTPTransport has no network_backend argument; its pool is swapped for
        # one that has (httpcore's public ConnectionPool and SyncBackend interfaces).
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            network_backend=CheckedBackend(literal_ips),
        )


def create_client(
    literal_ips: frozenset[IPAddress], timeout: float, provider: TracerProvider | None
) -> httpx.Client:
    """A client whose connections are checked, traced with `provider` (None: untraced)."""
    transport: httpx.BaseTransport = _CheckedTransport(literal_ips, max_connections=64)
    if provider is not None:
        transport = SyncOpenTelemetryTransport(
            transport, tracer_provider=provider, meter_provider=NoOpMeterProvider()
        )
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
    )


def describe_error(error: Exception, timeout: float) -> tuple[str, str]:
    """A clear reason for a failed call, and its bounded `error_type` label."""
    cause = error.__cause__
    if isinstance(cause, ForbiddenAddress):
        return str(cause), "forbidden_address"
    if isinstance(error, httpx.ConnectTimeout):
        return f"timeout: no connection within {timeout:g} s", "timeout"
    if isinstance(error, httpx.TimeoutException):
        return f"timeout: no answer within {timeout:g} s", "timeout"
    if isinstance(error, httpx.ConnectError):
        return f"could not connect: {error}", "connect_error"
    if isinstance(error, httpx.ProtocolError):
        return f"not a valid HTTP answer: {error}", "protocol_error"
    if isinstance(error, httpx.TransportError):
        return f"connection lost: {error}", "connection_error"
    return f"{type(error).__name__}: {error}", type(error).__name__


def read_capped(response: httpx.Response, deadline: float) -> tuple[bytes, str]:
    """The body up to RESPONSE_CAP_BYTES, read chunk by chunk, and why it was cut ("" if not)."""
    kept = bytearray()
    for chunk in response.iter_raw():
        kept += chunk
        if len(kept) > RESPONSE_CAP_BYTES:
            return bytes(kept[:RESPONSE_CAP_BYTES]), CUT_AT_CAP
        if time.monotonic() > deadline:
            return bytes(kept), CUT_AT_DEADLINE
    return bytes(kept), ""


def decoded(raw: bytes, cut: str) -> Any:
    """The downstream's JSON when the whole answer parses as JSON, else its text."""
    if not cut and raw[:1] in (b"{", b"["):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return raw.decode("utf-8", "replace")


def status_error(response: httpx.Response, value: Any) -> tuple[str | None, str]:
    """The reason a redirect or an error status is reported, and its `error_type` label."""
    status = response.status_code
    if 300 <= status < 400:
        where = response.headers.get("Location", "nowhere")
        return f"redirect to {where} not followed", ""
    if status < 400:
        return None, ""
    detail = f": {value['error']}: {value.get('detail', '')}" if _is_error(value) else ""
    return f"HTTP {status}{detail}", str(status)


def _is_error(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("error"), str)
