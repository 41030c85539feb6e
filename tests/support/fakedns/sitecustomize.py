"""Test-only name resolution for a server started by the integration tests.

With this directory on PYTHONPATH, Python imports it at start-up; names listed in
ECHOSCOPE_TEST_HOSTS (`name=ip,ip;name=ip`) resolve to those addresses in that
process, every other name as usual. It lets a test make a name resolve to a
metadata address without touching /etc/hosts, and without any hook in service/.
"""

import os
import socket

_HOSTS = {
    name.strip().lower(): [address.strip() for address in addresses.split(",")]
    for name, _, addresses in (
        entry.partition("=") for entry in os.environ.get("ECHOSCOPE_TEST_HOSTS", "").split(";")
    )
    if name.strip()
}

if _HOSTS:
    _real_getaddrinfo = socket.getaddrinfo

    def _getaddrinfo(host, port, *args, **kwargs):
        addresses = _HOSTS.get(host.lower()) if isinstance(host, str) else None
        if addresses is None:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    socket.getaddrinfo = _getaddrinfo
